//! How the variables reach clap: each set variable becomes its flag, ahead of the real command
//! line, so one parse reads a test's map and the process environment alike.
//!
//! Clap reads declared variables itself only from the process environment, when the command is
//! built, and takes an empty variable for a value; here a variable holding only spaces counts as
//! unset (a `.env` line such as `DISCORD_TOKEN=` turns nothing on). So every declared variable is
//! looked up through the caller's function, trimmed, and passed as `--flag=value`; clap's own
//! reading is switched off, and its declarations serve the help and this lookup.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::ConfigError;

/// Why the command line was not parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Help, the version, or a mistake in the command line itself: clap's to show
    /// (`clap::Error::exit`).
    #[error(transparent)]
    Usage(clap::Error),
    /// A setting's value is refused.
    #[error(transparent)]
    Config(ConfigError),
}

/// Parse the command line `args` (program name first) of `P`, which flattens
/// [`super::Settings`], with every variable read through `lookup`. A flag given in `args` wins
/// over its variable.
pub fn parse<P: clap::Parser>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<P, ParseError> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let declared = declared::<P>();
    let mut command = declared.clone();
    let mut fed: Vec<OsString> = args.iter().take(1).cloned().collect();
    let mut variables = Vec::new();
    for arg in declared.get_arguments() {
        let (Some(var), Some(long)) = (arg.get_env().and_then(|v| v.to_str()), arg.get_long()) else {
            continue;
        };
        if let Some(value) = lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            fed.push(format!("--{long}={value}").into());
        }
        variables.push((arg.get_id().clone(), var.to_owned()));
        command = command.mut_arg(arg.get_id(), |a| a.env(None));
    }
    fed.extend(args.iter().skip(1).cloned());
    let matches = match command.try_get_matches_from_mut(fed) {
        Ok(matches) => matches,
        // The help shows the declared command, which names each flag's variable.
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) => {
            return Err(ParseError::Usage(declared.try_get_matches_from(args).err().unwrap_or(e)));
        }
        Err(e) => return Err(refused(e, &command, &variables)),
    };
    P::from_arg_matches(&matches).map_err(ParseError::Usage)
}

/// `P`'s command: a flag given twice (by its variable, then on the command line) keeps the
/// last, and the help never prints a variable's value (some are secrets).
fn declared<P: clap::CommandFactory>() -> clap::Command {
    P::command().args_override_self(true).mut_args(|a| if a.get_env().is_some() { a.hide_env_values(true) } else { a })
}

/// A refused value becomes the error naming its variable; anything else stays clap's.
/// `command` has parsed (so it is built, and its arguments can be shown as clap shows them).
fn refused(e: clap::Error, command: &clap::Command, variables: &[(clap::Id, String)]) -> ParseError {
    let var = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::ValueValidation, Some(ContextValue::String(shown))) => command
            .get_arguments()
            .find(|arg| arg.to_string() == *shown)
            .and_then(|arg| variables.iter().find(|(id, _)| id == arg.get_id()))
            .map(|(_, var)| var.clone()),
        _ => None,
    };
    match var {
        Some(var) => {
            let problem = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
            ParseError::Config(ConfigError { var, problem })
        }
        None => ParseError::Usage(e),
    }
}
