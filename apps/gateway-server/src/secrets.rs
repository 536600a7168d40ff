//! Secret values, read from the environment variables the TOML names, only at `serve`.
//! A missing, blank or whitespace-containing value stops startup naming the variable,
//! never echoing its value.

use sipp::Secret;

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    Missing(String),
    #[error("environment variable {0} is blank")]
    Blank(String),
    #[error("environment variable {0} contains whitespace (bearer tokens and keys may not)")]
    Whitespace(String),
}

/// Read `name` through `lookup` (the process environment in production).
pub fn read(name: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
    let value = lookup(name).ok_or_else(|| SecretError::Missing(name.to_string()))?;
    if value.trim().is_empty() {
        return Err(SecretError::Blank(name.to_string()));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(SecretError::Whitespace(name.to_string()));
    }
    Ok(Secret::new(value))
}

/// The process environment.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_variable_not_the_value() {
        let lookup = |n: &str| match n {
            "BLANK" => Some("  ".to_string()),
            "SPACE" => Some("tok en-secret".to_string()),
            "GOOD" => Some("tok-123".to_string()),
            _ => None,
        };
        assert_eq!(read("GOOD", &lookup).unwrap().expose(), "tok-123");
        assert_eq!(read("NOPE", &lookup).unwrap_err().to_string(), "environment variable NOPE is not set");
        assert_eq!(read("BLANK", &lookup).unwrap_err().to_string(), "environment variable BLANK is blank");
        let e = read("SPACE", &lookup).unwrap_err().to_string();
        assert!(e.contains("SPACE contains whitespace") && !e.contains("secret"), "{e}");
    }
}
