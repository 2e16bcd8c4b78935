//! [`Vars`]: the reader every section of the configuration parses through
//! (docs/DESIGN.md §8).
//!
//! It holds the lookup and the problems found so far, so that a section
//! records what is wrong and goes on: every problem is reported at once, in
//! the order the sections read their variables.

use super::{ConfigError, ConfigErrors};

/// The variables, and the problems found in them so far.
///
/// A section is a function `read(vars: &mut Vars, …) -> Option<Section>`
/// that returns `None` only after recording, with [`Vars::check`] or
/// [`Vars::report`], why.
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: ConfigErrors,
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            errors: ConfigErrors(Vec::new()),
        }
    }

    /// The value of `var`; a missing or empty (whitespace-only) value is
    /// unset.
    pub fn get(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// The value of `var`, or the problem that it is unset.
    pub fn required(&self, var: &str) -> Result<String, String> {
        self.get(var).ok_or_else(|| "is not set".to_owned())
    }

    /// The value of `var`, or `default` when it is unset.
    pub fn or_default(&self, var: &str, default: &str) -> String {
        self.get(var).unwrap_or_else(|| default.to_owned())
    }

    /// The value, or `None` with the problem recorded against `var`.
    pub fn check<T>(&mut self, var: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.report(var, problem)).ok()
    }

    /// Records a problem with `var`.
    pub fn report(&mut self, var: &'static str, problem: String) {
        self.report_at(var, problem);
    }

    /// Records a problem with a part of a variable (`APPS[wiki].policy`).
    pub fn report_at(&mut self, var: impl Into<std::borrow::Cow<'static, str>>, problem: String) {
        self.errors.0.push(ConfigError {
            var: var.into(),
            problem,
        });
    }

    /// The problems found, for a reader of part of a variable (an app of
    /// `APPS`) to report against that part.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors.0
    }

    /// What `assemble` builds from the sections, if no problem was
    /// recorded; otherwise every problem.
    pub fn finish<T>(self, assemble: impl FnOnce() -> Option<T>) -> Result<T, ConfigErrors> {
        if !self.errors.0.is_empty() {
            return Err(self.errors);
        }
        assemble().ok_or(self.errors)
    }
}
