//! [`strip`]: what `wg-quick strip FILE` prints — the file without wg-quick's own keys, ready
//! for `wg setconf`.

use super::lex::{bash_lines, QuickScanner};

/// Returns exactly what `wg-quick strip` prints for `text`: every line wg-quick does not consume
/// (comments and blank lines included), as bash's `read -r` returned it (NUL bytes dropped,
/// spaces and tabs trimmed at both ends, `\r` kept), each followed by `\n`, then one more `\n`
/// from `echo`.
///
/// Values are not checked: wg-quick also dies on a `SaveConfig` that is neither true nor false;
/// call [`parse`](super::parse) first for that.
pub fn strip(text: &str) -> String {
    let mut scanner = QuickScanner::default();
    // Never more than the input plus two line feeds: no reallocation leaves key copies behind.
    let mut out = String::with_capacity(text.len() + 2);
    for line in bash_lines(text) {
        if scanner.consume(&line.text).is_none() {
            out.push_str(&line.text);
            out.push('\n');
        }
    }
    out.push('\n');
    out
}
