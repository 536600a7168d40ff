//! Reads a GGUF file's header and tensor table (not the weights) to tell a truncated or
//! corrupt file apart before llama.cpp sees it: llama.cpp refuses such files too, but
//! the reason reaches us only as "null result from llama cpp".

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Why a GGUF file cannot be complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The file ends inside its header or tensor table.
    HeaderCut { file_len: u64 },
    /// The tensor table points past the end of the file.
    DataCut { needed: u64, file_len: u64 },
    /// A field holds a value no writer produces.
    Corrupt(String),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use super::memory::human;
        match self {
            Self::HeaderCut { file_len } => write!(
                f,
                "the file is truncated: it ends ({}) inside its GGUF header; download it again",
                human(*file_len)
            ),
            Self::DataCut { needed, file_len } => write!(
                f,
                "the file is truncated: its tensors need {} but it has {}; download it again",
                human(*needed),
                human(*file_len)
            ),
            Self::Corrupt(what) => write!(f, "the file is corrupt: {what}"),
        }
    }
}

const DEFAULT_ALIGNMENT: u64 = 32;
/// Far beyond any real model; a larger count means the bytes are not a tensor table.
const MAX_COUNT: u64 = 1 << 32;

/// What the header says, for the checks that come before loading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Header {
    /// `general.architecture`.
    pub architecture: String,
    /// The model has a decoder start token: an encoder-decoder (T5-style) model.
    pub encoder_decoder: bool,
    /// The ggml type holding most weight elements (matrices, not norms or biases).
    pub weight_type: Option<u32>,
}

/// The header when it parses and every tensor lies inside the file.
pub(crate) fn read_header(path: &Path) -> std::io::Result<Result<Header, Damage>> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = Reader { inner: BufReader::with_capacity(1 << 16, file), pos: 0, len: file_len };
    Ok(match r.layout() {
        Ok((_, needed)) if needed > file_len => Err(Damage::DataCut { needed, file_len }),
        Ok((header, _)) => Ok(header),
        Err(e) => Err(e),
    })
}

struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

type Parse<T> = Result<T, Damage>;

impl Reader {
    fn cut(&self) -> Damage {
        Damage::HeaderCut { file_len: self.len }
    }

    fn bytes<const N: usize>(&mut self) -> Parse<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|_| self.cut())?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self) -> Parse<u32> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Parse<u64> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }

    fn skip(&mut self, n: u64) -> Parse<()> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(self.cut());
        }
        let n_i64 = i64::try_from(n).map_err(|_| self.cut())?;
        self.inner.seek_relative(n_i64).map_err(|_| self.cut())?;
        self.pos += n;
        Ok(())
    }

    fn string(&mut self) -> Parse<String> {
        let n = self.u64()?;
        if n > self.len.saturating_sub(self.pos) {
            return Err(self.cut());
        }
        let mut buf = vec![0u8; usize::try_from(n).map_err(|_| self.cut())?];
        self.inner.read_exact(&mut buf).map_err(|_| self.cut())?;
        self.pos += n;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn count(&mut self, what: &str) -> Parse<u64> {
        let n = self.u64()?;
        if n > MAX_COUNT {
            return Err(Damage::Corrupt(format!("{what} count {n} is not plausible")));
        }
        Ok(n)
    }

    /// Skip one metadata value of GGUF type `ty`; returns it when it is a u32 (alignment).
    fn value(&mut self, ty: u32) -> Parse<Option<u64>> {
        match ty {
            0 | 1 | 7 => self.skip(1)?,
            2 | 3 => self.skip(2)?,
            4 | 5 => return self.u32().map(|v| Some(u64::from(v))),
            6 => self.skip(4)?,
            8 => {
                let n = self.u64()?;
                self.skip(n)?;
            }
            9 => {
                let inner = self.u32()?;
                let n = self.count("array")?;
                match fixed_size(inner) {
                    Some(size) => self.skip(n.saturating_mul(size))?,
                    None => {
                        for _ in 0..n {
                            self.value(inner)?;
                        }
                    }
                }
            }
            10..=12 => self.skip(8)?,
            other => return Err(Damage::Corrupt(format!("unknown metadata type {other}"))),
        }
        Ok(None)
    }

    /// The header, and the bytes the file must have: the end of its last tensor.
    fn layout(&mut self) -> Parse<(Header, u64)> {
        let _magic = self.bytes::<4>()?;
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(Damage::Corrupt(format!("GGUF version {version} is not supported (2 or 3)")));
        }
        let n_tensors = self.count("tensor")?;
        let n_kv = self.count("metadata")?;
        let mut alignment = DEFAULT_ALIGNMENT;
        let mut header = Header::default();
        for _ in 0..n_kv {
            let key = self.string()?;
            let ty = self.u32()?;
            if key == "general.architecture" && ty == 8 {
                header.architecture = self.string()?;
                continue;
            }
            let value = self.value(ty)?;
            if key == "general.alignment" {
                alignment = value.filter(|a| a.is_power_of_two()).unwrap_or(DEFAULT_ALIGNMENT);
            }
            header.encoder_decoder |= key.ends_with(".decoder_start_token_id");
        }
        let mut end = 0u64;
        let mut by_type = std::collections::BTreeMap::<u32, u64>::new();
        for _ in 0..n_tensors {
            let name = self.string()?;
            let n_dims = self.u32()?;
            if n_dims > 4 {
                return Err(Damage::Corrupt(format!("tensor {name} has {n_dims} dimensions")));
            }
            let mut elements = 1u64;
            for _ in 0..n_dims {
                elements = elements.saturating_mul(self.u64()?);
            }
            let ty = self.u32()?;
            if n_dims >= 2 {
                *by_type.entry(ty).or_default() += elements;
            }
            let offset = self.u64()?;
            // Unknown (newer) types count with no size: the offset alone still bounds them.
            let size = tensor_bytes(ty, elements).unwrap_or(0);
            end = end.max(offset.saturating_add(size));
        }
        header.weight_type = by_type.into_iter().max_by_key(|(_, n)| *n).map(|(ty, _)| ty);
        let data_start = self.pos.div_ceil(alignment) * alignment;
        Ok((header, data_start.saturating_add(end)))
    }
}

/// Byte size of metadata scalars (None: strings and arrays).
fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// Bytes of `elements` values of ggml type `ty`: (block size, bytes per block) from ggml.
fn tensor_bytes(ty: u32, elements: u64) -> Option<u64> {
    let (block, bytes) = match ty {
        0 => (1, 4),       // F32
        1 | 30 => (1, 2),  // F16, BF16
        2 => (32, 18),     // Q4_0
        3 => (32, 20),     // Q4_1
        6 => (32, 22),     // Q5_0
        7 => (32, 24),     // Q5_1
        8 => (32, 34),     // Q8_0
        9 => (32, 36),     // Q8_1
        10 => (256, 84),   // Q2_K
        11 => (256, 110),  // Q3_K
        12 => (256, 144),  // Q4_K
        13 => (256, 176),  // Q5_K
        14 => (256, 210),  // Q6_K
        15 => (256, 292),  // Q8_K
        16 => (256, 66),   // IQ2_XXS
        17 => (256, 74),   // IQ2_XS
        18 => (256, 98),   // IQ3_XXS
        19 => (256, 50),   // IQ1_S
        20 => (32, 18),    // IQ4_NL
        21 => (256, 110),  // IQ3_S
        22 => (256, 82),   // IQ2_S
        23 => (256, 136),  // IQ4_XS
        24 => (1, 1),      // I8
        25 => (1, 2),      // I16
        26 => (1, 4),      // I32
        27 | 28 => (1, 8), // I64, F64
        29 => (256, 56),   // IQ1_M
        34 => (256, 54),   // TQ1_0
        35 => (256, 66),   // TQ2_0
        39 => (32, 17),    // MXFP4
        _ => return None,
    };
    Some(elements / block * bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn string(b: &mut Vec<u8>, s: &str) {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    }

    /// A minimal GGUF v3 of architecture `arch`, one F32 tensor of `n` values.
    pub(crate) fn tiny_of(arch: &str, n: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes()); // tensors
        b.extend(4u64.to_le_bytes()); // metadata
        string(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes());
        string(&mut b, arch);
        string(&mut b, "general.alignment");
        b.extend(4u32.to_le_bytes());
        b.extend(32u32.to_le_bytes());
        string(&mut b, "tokenizer.ggml.tokens");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        string(&mut b, "<s>");
        string(&mut b, "hello");
        string(&mut b, &format!("{arch}.decoder_start_token_id"));
        b.extend(4u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        let name = b"w";
        b.extend((name.len() as u64).to_le_bytes());
        b.extend(name);
        b.extend(1u32.to_le_bytes());
        b.extend(n.to_le_bytes());
        b.extend(0u32.to_le_bytes()); // F32
        b.extend(0u64.to_le_bytes()); // offset
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend(std::iter::repeat_n(0u8, usize::try_from(n * 4).unwrap()));
        b
    }

    fn tiny(n: u64) -> Vec<u8> {
        tiny_of("t5", n)
    }

    fn check(bytes: &[u8]) -> Result<Header, Damage> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, bytes).unwrap();
        read_header(&path).unwrap()
    }

    #[test]
    fn complete_file_passes_and_cuts_are_named() {
        let whole = tiny(64);
        let header = Header { architecture: "t5".into(), encoder_decoder: true, weight_type: None };
        assert_eq!(check(&whole), Ok(header), "a 1-D tensor is no weight matrix");
        let len = whole.len() as u64;
        assert_eq!(check(&whole[..whole.len() - 1]), Err(Damage::DataCut { needed: len, file_len: len - 1 }));
        assert_eq!(check(&whole[..20]), Err(Damage::HeaderCut { file_len: 20 }));
        let text = check(&whole[..whole.len() - 100]).unwrap_err().to_string();
        assert!(text.starts_with("the file is truncated"), "{text}");
    }

    #[test]
    fn nonsense_counts_are_corrupt_not_allocations() {
        let mut b = tiny(8);
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(check(&b), Err(Damage::Corrupt(_))));
        let mut b = tiny(8);
        b[4..8].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(check(&b), Err(Damage::Corrupt(_))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// Header mutations (bytes flipped, counts and lengths made huge, the file cut
        /// anywhere) never crash the reader or make it allocate what the file claims:
        /// each is a `Damage` or a header.
        #[test]
        fn mutated_headers_never_crash(
            flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::option::of(0usize..400),
        ) {
            let mut b = tiny(8);
            for (at, byte) in flips {
                let at = at % b.len();
                b[at] = byte;
            }
            if let Some(c) = cut {
                b.truncate(c % b.len());
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.gguf");
            std::fs::write(&path, &b).unwrap();
            let _ = read_header(&path).unwrap();
        }
    }
}
