//! Recovery codes: ten single-use codes of 60 random bits (`xxxx-xxxx-xxxx`, an alphabet
//! without look-alikes), shown once and kept as SHA-256 digests: a slow hash adds nothing to
//! a code nobody can guess. Each digest names its user, so that a copy of the table cannot be
//! searched for every user's codes at once.

pub const COUNT: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz123456789";
const CHARS: usize = 12;

/// A new set for the user: the codes to show, and their digests to store.
pub fn generate(uid: i64) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..COUNT).map(|_| one()).collect();
    let hashes = codes.iter().map(|c| hash(uid, c)).collect();
    (codes, hashes)
}

fn one() -> String {
    let raw = crate::crypto::random_bytes::<CHARS>();
    let chars: Vec<char> = raw
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Case, spaces and dashes do not matter.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn hash(uid: i64, code: &str) -> String {
    crate::crypto::digest_parts(&["portcullis:recovery", &uid.to_string(), &normalize(code)])
}

/// Whether the text has a recovery code's shape (rather than a TOTP code's).
pub fn looks_like(code: &str) -> bool {
    let n = normalize(code);
    n.len() == CHARS && n.bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_matched_loosely() {
        let (codes, hashes) = generate(7);
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        let c = &codes[0];
        assert_eq!(c.len(), 14);
        assert!(looks_like(c));
        assert_eq!(hash(7, &c.to_uppercase().replace('-', " ")), hashes[0]);
        assert_ne!(hash(8, c), hashes[0], "another user's digest differs");
        assert!(!looks_like("123456"));
    }
}
