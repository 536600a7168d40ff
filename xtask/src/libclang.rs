//! Is there a libclang that bindgen will load? Answered the way clang-sys 1.9 (bindgen's
//! loader, `runtime` feature) searches, so `doctor` agrees with the build script.
//!
//! A file-name test alone is wrong: Debian's `libclang-cpp14` package (on every fresh
//! machine of ours) puts `libclang-cpp.so.14` in `/usr/lib/llvm-14/lib`, the C++ interface,
//! which clang-sys skips. `libclang.so.1` (package `libclang1-14`) is what it loads.

use std::path::{Path, PathBuf};

/// Directory patterns clang-sys searches on Linux, most specific first. A `*` matches one
/// path component.
const DIRECTORIES_LINUX: &[&str] = &[
    "/usr/local/llvm*/lib*",
    "/usr/local/lib*/*/*",
    "/usr/local/lib*/*",
    "/usr/local/lib*",
    "/usr/lib*/*/*",
    "/usr/lib*/*",
    "/usr/lib*",
];

/// The libclang shared libraries bindgen would find, searched under `root` (`/` on a real
/// machine; a temporary tree in tests). `env` reads `LIBCLANG_PATH`, `LD_LIBRARY_PATH` and
/// `LIBRARY_PATH`; `llvm_prefix` is `llvm-config --prefix`, when there is one.
pub fn find(root: &Path, env: &dyn Fn(&str) -> Option<String>, llvm_prefix: Option<&Path>) -> Vec<PathBuf> {
    // LIBCLANG_PATH, when set, is the only place clang-sys looks (a file or a directory).
    if let Some(path) = env("LIBCLANG_PATH") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return path
                .file_name()
                .filter(|n| is_libclang_name(&n.to_string_lossy()))
                .map(|_| path.clone())
                .into_iter()
                .collect();
        }
        return search_dir(&path);
    }
    let mut found = Vec::new();
    if let Some(prefix) = llvm_prefix {
        for sub in ["bin", "lib", "lib64"] {
            found.extend(search_dir(&prefix.join(sub)));
        }
    }
    for var in ["LD_LIBRARY_PATH", "LIBRARY_PATH"] {
        if let Some(value) = env(var) {
            for dir in std::env::split_paths(&value) {
                found.extend(search_dir(&dir));
            }
        }
    }
    for pattern in DIRECTORIES_LINUX {
        for dir in expand(root, pattern.trim_start_matches('/')) {
            found.extend(search_dir(&dir));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The same search on this machine.
pub fn find_on_this_machine() -> Vec<PathBuf> {
    let prefix = std::process::Command::new("llvm-config")
        .arg("--prefix")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(PathBuf::from));
    find(Path::new("/"), &|name| std::env::var(name).ok(), prefix.as_deref())
}

/// clang-sys's runtime file patterns: `libclang.so`, `libclang-*.so`, `libclang.so.*`,
/// `libclang-*.so.*`, minus `libclang-cpp` (renamed `libclang_shared`, not the C API).
fn is_libclang_name(name: &str) -> bool {
    if name.contains("-cpp.") {
        return false;
    }
    name == "libclang.so"
        || name.starts_with("libclang.so.")
        || name.strip_prefix("libclang-").is_some_and(|rest| rest.ends_with(".so") || rest.contains(".so."))
}

/// Matching files in one directory that are 64-bit ELF shared objects (clang-sys
/// rejects the wrong ELF class the same way).
fn search_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| is_libclang_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| elf_class(p) == Some(if cfg!(target_pointer_width = "64") { 2 } else { 1 }))
        .collect();
    out.sort();
    out
}

fn elf_class(path: &Path) -> Option<u8> {
    use std::io::Read;
    let mut header = [0u8; 5];
    std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    (header[..4] == *b"\x7fELF").then_some(header[4])
}

/// Directories under `root` matching `pattern`, where `*` in a component matches any run
/// of characters within that component.
fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    for component in pattern.split('/') {
        dirs = dirs
            .iter()
            .flat_map(|dir| match component.split_once('*') {
                None => vec![dir.join(component)].into_iter().filter(|d| d.is_dir()).collect::<Vec<_>>(),
                Some((head, tail)) => std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .filter(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
                    })
                    .map(|e| e.path())
                    .filter(|d| d.is_dir())
                    .collect(),
            })
            .collect();
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf64(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"\x7fELF\x02\x01\x01\0rest of a shared object").unwrap();
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A fresh Debian 12 machine of ours: LLVM 14's C++ library, no C library.
    #[test]
    fn fresh_machine_layout_has_no_libclang() {
        let root = tempfile::tempdir().unwrap();
        elf64(&root.path().join("usr/lib/llvm-14/lib/libclang-cpp.so.14"));
        elf64(&root.path().join("usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"));
        elf64(&root.path().join("usr/lib/llvm-14/lib/libLLVM-14.so"));
        std::fs::write(root.path().join("usr/lib/llvm-14/lib/libclang.so.txt"), "not a library").unwrap();
        let prefix = root.path().join("usr/lib/llvm-14");
        assert_eq!(find(root.path(), &no_env, Some(&prefix)), Vec::<PathBuf>::new());
    }

    /// After `apt-get install libclang-dev`: `libclang.so.1` and the `libclang-14.so` link.
    #[test]
    fn installed_libclang_is_found() {
        let root = tempfile::tempdir().unwrap();
        elf64(&root.path().join("usr/lib/llvm-14/lib/libclang-cpp.so.14"));
        elf64(&root.path().join("usr/lib/llvm-14/lib/libclang.so.1"));
        elf64(&root.path().join("usr/lib/x86_64-linux-gnu/libclang-14.so.14.0.6"));
        let found = find(root.path(), &no_env, None);
        assert_eq!(
            found,
            vec![
                root.path().join("usr/lib/llvm-14/lib/libclang.so.1"),
                root.path().join("usr/lib/x86_64-linux-gnu/libclang-14.so.14.0.6"),
            ]
        );
    }

    #[test]
    fn libclang_path_is_the_only_place_searched() {
        let root = tempfile::tempdir().unwrap();
        elf64(&root.path().join("usr/lib/libclang.so"));
        let custom = root.path().join("opt/clang");
        std::fs::create_dir_all(&custom).unwrap();
        let env = |name: &str| (name == "LIBCLANG_PATH").then(|| custom.display().to_string());
        assert!(find(root.path(), &env, None).is_empty(), "an empty LIBCLANG_PATH dir hides the system one");
        elf64(&custom.join("libclang-17.so"));
        assert_eq!(find(root.path(), &env, None), vec![custom.join("libclang-17.so")]);
    }

    #[test]
    fn wrong_elf_class_is_rejected() {
        let root = tempfile::tempdir().unwrap();
        let lib = root.path().join("usr/lib/libclang.so");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, b"\x7fELF\x01 32-bit").unwrap();
        assert!(find(root.path(), &no_env, None).is_empty());
    }

    #[test]
    fn names_follow_clang_sys() {
        for yes in ["libclang.so", "libclang.so.1", "libclang-14.so", "libclang-14.so.14.0.6"] {
            assert!(is_libclang_name(yes), "{yes}");
        }
        for no in ["libclang-cpp.so.14", "libclang-cpp.so", "libclangBasic.a", "libclang.a", "libclang_rt.asan.so"] {
            assert!(!is_libclang_name(no), "{no}");
        }
    }
}
