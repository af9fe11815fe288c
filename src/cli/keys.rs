//! `genkey`, `genpsk` and `pubkey`, byte-compatible with wireguard-tools' `genkey.c` and
//! `pubkey.c` (keys are whitepaper §5.4 Curve25519 and §5.2 preshared keys).

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;

use rand_core::RngCore;
use wgrs::platform::rng::os_rng;
use wgrs::proto::keys::{KeyError, PresharedKey, PrivateKey, KEY_BASE64_LEN};
use zeroize::Zeroizing;

use super::Failure;

/// What `wg genkey` / `wg genpsk` print when stdout is a file others may read.
pub(crate) const WORLD_ACCESSIBLE_WARNING: &str =
    "Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n";

/// `wgrs genkey`: a fresh clamped Curve25519 private key in base64.
pub(super) fn genkey() -> Result<(), Failure> {
    warn_if_stdout_world_accessible();
    let bytes = random_key()?;
    let key = PrivateKey::from_bytes(*bytes);
    print_line(&key.to_base64())
}

/// `wgrs genpsk`: 32 random bytes (unclamped) in base64.
pub(super) fn genpsk() -> Result<(), Failure> {
    warn_if_stdout_world_accessible();
    let bytes = random_key()?;
    let key = PresharedKey::from_bytes(*bytes);
    print_line(&key.to_base64())
}

/// `wgrs pubkey`: a base64 private key on stdin, its public key on stdout.
pub(super) fn pubkey() -> Result<(), Failure> {
    let public = public_key_from_reader(io::stdin().lock())?;
    print_line(&public)
}

/// Read a private key the way `wg pubkey` does and return the matching public key in base64.
///
/// Exactly 44 bytes are read first (fewer is a format error). What follows may only be NUL
/// bytes and C-locale whitespace; the first other byte is "Trailing characters found after
/// key" (checked before the key is decoded, as wg does). Then the 44 bytes must be a canonical
/// base64 key.
pub(crate) fn public_key_from_reader(mut input: impl BufRead) -> Result<String, Failure> {
    let format_error = || Failure::Message(KeyError::Format.to_string());
    let mut text = Zeroizing::new([0u8; KEY_BASE64_LEN]);
    input
        .read_exact(&mut text[..])
        .map_err(|_| format_error())?;
    for byte in input.bytes() {
        match byte {
            Ok(b) if b == 0 || is_c_space(b) => continue,
            Ok(_) => {
                return Err(Failure::Message(
                    "Trailing characters found after key".to_owned(),
                ))
            }
            // getc(3) reports a read error as EOF; wg then goes on to decode what it has.
            Err(_) => break,
        }
    }
    let text = std::str::from_utf8(&text[..]).map_err(|_| format_error())?;
    let private = PrivateKey::from_base64(text).map_err(|_| format_error())?;
    Ok(private.public_key().to_base64())
}

/// `isspace` in the C locale: space, \t, \n, \v, \f, \r.
fn is_c_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// 32 bytes from the OS RNG; failure is reported like wg's `perror("getrandom")`.
fn random_key() -> Result<Zeroizing<[u8; 32]>, Failure> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    os_rng()
        .try_fill_bytes(&mut bytes[..])
        .map_err(|e| Failure::Plain(format!("getrandom: {e}")))?;
    Ok(bytes)
}

/// Warn, as wg does, when stdout is a regular file with any permission bit for "other" set.
fn warn_if_stdout_world_accessible() {
    if stdout_is_world_accessible_file() {
        // fputs(3) in wg: a failed warning is not an error.
        let _ = io::stderr().write_all(WORLD_ACCESSIBLE_WARNING.as_bytes());
    }
}

/// fstat(1): a regular file whose mode has any of S_IRWXO. Unknown (fstat failed) counts as no.
fn stdout_is_world_accessible_file() -> bool {
    let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = File::from(fd).metadata() else {
        return false;
    };
    meta.file_type().is_file() && meta.permissions().mode() & 0o007 != 0
}

/// Write `text` and a newline to stdout, like `puts(3)`. A closed pipe ends the command quietly
/// (wg dies of SIGPIPE there); other write errors are reported.
fn print_line(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::Quiet,
            _ => Failure::Message(format!("Unable to write to stdout: {e}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7748 §6.1: Alice's private key, base64, and her public key, base64.
    const ALICE_SK: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
    const ALICE_PK: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

    fn run(input: &[u8]) -> Result<String, Failure> {
        public_key_from_reader(input)
    }

    fn format_error() -> Result<String, Failure> {
        Err(Failure::Message(
            "Key is not the correct length or format".to_owned(),
        ))
    }

    fn trailing_error() -> Result<String, Failure> {
        Err(Failure::Message(
            "Trailing characters found after key".to_owned(),
        ))
    }

    #[test]
    fn known_answer_with_and_without_trailing_whitespace() {
        let expected = Ok(ALICE_PK.to_owned());
        assert_eq!(run(ALICE_SK.as_bytes()), expected);
        for tail in ["\n", "\r\n", " \t\n\x0b\x0c\r", "\0\0\n", "\n\n\n"] {
            let input = format!("{ALICE_SK}{tail}");
            assert_eq!(run(input.as_bytes()), expected, "tail {tail:?}");
        }
    }

    #[test]
    fn short_input_is_a_format_error() {
        assert_eq!(run(b""), format_error());
        assert_eq!(run(&ALICE_SK.as_bytes()[..43]), format_error());
    }

    #[test]
    fn trailing_characters_are_refused_before_decoding() {
        assert_eq!(run(format!("{ALICE_SK}x").as_bytes()), trailing_error());
        assert_eq!(run(format!("{ALICE_SK}\n\nx").as_bytes()), trailing_error());
        // A leading space shifts the '=' past the first 44 bytes.
        assert_eq!(run(format!(" {ALICE_SK}").as_bytes()), trailing_error());
        // Non-ASCII bytes are not C-locale whitespace.
        assert_eq!(
            run(&[ALICE_SK.as_bytes(), b"\xa0"].concat()),
            trailing_error()
        );
    }

    #[test]
    fn malformed_keys_are_format_errors() {
        let mut bad_char = ALICE_SK.as_bytes().to_vec();
        bad_char[10] = b'!';
        assert_eq!(run(&bad_char), format_error());
        let mut no_pad = ALICE_SK.as_bytes().to_vec();
        no_pad[43] = b'A';
        assert_eq!(run(&no_pad), format_error());
        // 'o' -> 'p' sets a low bit that base64 of 32 bytes must leave clear.
        let non_canonical = ALICE_SK.replace("Co=", "Cp=");
        assert_eq!(run(non_canonical.as_bytes()), format_error());
        let mut nul = ALICE_SK.as_bytes().to_vec();
        nul[5] = 0;
        assert_eq!(run(&nul), format_error());
        let mut not_utf8 = ALICE_SK.as_bytes().to_vec();
        not_utf8[5] = 0xff;
        assert_eq!(run(&not_utf8), format_error());
    }

    #[test]
    fn c_space_is_exactly_the_six_ascii_spaces() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&b| is_c_space(b)).collect();
        assert_eq!(spaces, b"\t\n\x0b\x0c\r ");
    }
}
