//! Lines as wg-quick's bash and `wg`'s `config.c` see them: the shared first step of
//! [`parse`](super::parse) and [`strip`](super::strip).
//!
//! wg-quick reads the file with `while read -r line || [[ -n $line ]]`: bash drops NUL bytes,
//! trims spaces and tabs (IFS) at both ends and keeps everything else (`\r` included). For its
//! own keys it cuts the line at the first `#`, splits at the first `=` and trims `[[:space:]]`
//! from key and value. The remaining lines go to `wg`, which cuts at `#` and removes *every*
//! space, tab, `\n`, `\v`, `\f` and `\r`.

use std::ops::Deref;
use zeroize::Zeroizing;

/// One input line as bash's `read -r` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrcLine<'a> {
    /// 1-based line number in the file.
    pub no: usize,
    /// The line without NUL bytes and without leading/trailing spaces and tabs.
    pub text: LineText<'a>,
}

/// A line's text: borrowed from the input, or (rarely: NUL bytes removed) an owned copy that
/// is zeroized when dropped, since a line may hold a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineText<'a> {
    Borrowed(&'a str),
    Owned(Zeroizing<String>),
}

impl Deref for LineText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            LineText::Borrowed(s) => s,
            LineText::Owned(s) => s,
        }
    }
}

/// `[[:space:]]` in the C locale, which is also `wg`'s `char_is_space`.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Splits `text` into lines exactly as wg-quick's read loop does.
pub(crate) fn bash_lines(text: &str) -> Vec<SrcLine<'_>> {
    let mut lines = Vec::new();
    let mut rest = text;
    let mut no = 0;
    while !rest.is_empty() {
        no += 1;
        let (raw, terminated) = match rest.split_once('\n') {
            Some((line, after)) => {
                rest = after;
                (line, true)
            }
            None => {
                let line = rest;
                rest = "";
                (line, false)
            }
        };
        let text = ifs_trim(raw);
        // `|| [[ -n $line ]]`: an unterminated last line counts only if something is left.
        if terminated || !text.is_empty() {
            lines.push(SrcLine { no, text });
        }
    }
    lines
}

fn ifs_trim(raw: &str) -> LineText<'_> {
    let is_ifs = |c: char| c == ' ' || c == '\t';
    if raw.contains('\0') {
        let mut kept = Zeroizing::new(String::with_capacity(raw.len()));
        kept.extend(raw.chars().filter(|&c| c != '\0'));
        LineText::Owned(Zeroizing::new(kept.trim_matches(is_ifs).to_owned()))
    } else {
        LineText::Borrowed(raw.trim_matches(is_ifs))
    }
}

/// wg-quick's view of a line: `stripped="${line%%\#*}"`, then key before the first `=` and
/// value after it (both the whole stripped line when there is no `=`), each trimmed.
pub(crate) fn quick_key_value(line: &str) -> (&str, &str) {
    let stripped = line.split('#').next().unwrap_or("");
    let (key, value) = stripped.split_once('=').unwrap_or((stripped, stripped));
    (key.trim_matches(is_c_space), value.trim_matches(is_c_space))
}

/// `wg`'s view of a line: cut at the first `#`, all whitespace removed (zeroized on drop: it
/// may hold a key).
pub(crate) fn wg_compact(line: &str) -> Zeroizing<String> {
    let kept = line.split('#').next().unwrap_or("");
    let mut out = Zeroizing::new(String::with_capacity(kept.len()));
    out.extend(kept.chars().filter(|&c| !is_c_space(c)));
    out
}

/// The wg-quick keys of `[Interface]`, which wg-quick consumes and `wg` never sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuickKey {
    Address,
    Mtu,
    Dns,
    Table,
    PreUp,
    PreDown,
    PostUp,
    PostDown,
    SaveConfig,
}

impl QuickKey {
    const ALL: [(QuickKey, &'static str); 9] = [
        (QuickKey::Address, "Address"),
        (QuickKey::Mtu, "MTU"),
        (QuickKey::Dns, "DNS"),
        (QuickKey::Table, "Table"),
        (QuickKey::PreUp, "PreUp"),
        (QuickKey::PreDown, "PreDown"),
        (QuickKey::PostUp, "PostUp"),
        (QuickKey::PostDown, "PostDown"),
        (QuickKey::SaveConfig, "SaveConfig"),
    ];

    /// Matches a trimmed key case-insensitively (bash `nocasematch`).
    pub fn from_key(key: &str) -> Option<QuickKey> {
        Self::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(key))
            .map(|&(k, _)| k)
    }

    /// Canonical spelling, for messages and rendering.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |&(_, name)| name)
    }
}

/// wg-quick's section tracking: which lines it keeps for itself.
#[derive(Debug, Default)]
pub(crate) struct QuickScanner {
    in_interface: bool,
}

impl QuickScanner {
    /// Feeds one line; returns the wg-quick key (and its value) when wg-quick consumes the line,
    /// `None` when the line goes on to `wg` unchanged.
    pub fn consume<'l>(&mut self, line: &'l str) -> Option<(QuickKey, &'l str)> {
        let (key, value) = quick_key_value(line);
        if key.starts_with('[') {
            self.in_interface = key.eq_ignore_ascii_case("[Interface]");
        }
        if !self.in_interface {
            return None;
        }
        QuickKey::from_key(key).map(|k| (k, value))
    }

    /// Whether wg-quick currently believes it is in `[Interface]`.
    pub fn in_interface(&self) -> bool {
        self.in_interface
    }
}
