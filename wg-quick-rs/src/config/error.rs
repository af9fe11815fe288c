//! [`ConfigError`]: a config problem named by file, line and key, never by a secret value.

use std::error::Error;
use std::fmt;

/// A problem in a wg-quick configuration file.
///
/// Displays as `{file}:{line}: {key}: {message}` (or `{file}:{line}: {message}` when no key
/// applies). The message quotes values only for keys that are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name given to [`parse`](super::parse).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The key concerned (canonical spelling where the key is known).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(file: &str, line: usize, key: Option<&str>, message: String) -> Self {
        ConfigError {
            file: file.to_owned(),
            line,
            key: key.map(str::to_owned),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}:{}: {}: {}", self.file, self.line, key, self.message),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

impl Error for ConfigError {}
