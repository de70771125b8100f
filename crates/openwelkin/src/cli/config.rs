//! `--config FILE` (or `OPENWELKIN_CONFIG`): settings from a TOML file, below the command
//! line and the environment and above the defaults. A commented sample with every setting
//! is `docs/openwelkin.toml`.
//!
//! The file's keys are the long names of `serve`'s flags (`listen`, `database`,
//! `db-timeout-ms`, `allow-private-webhooks`, …), so that every flag, including those added
//! later, can be set in the file without a line of code here. How:
//!
//! 1. the command line is parsed once, leniently, to learn the file and where each value
//!    came from (`ArgMatches::value_source`);
//! 2. every key of the file must be a flag of `serve` (else the start fails, naming the key
//!    and the file); a key whose flag the command has and that neither the command line nor
//!    the environment set becomes `--key=value`, after its TOML type and its value have
//!    been checked against the flag's own parser (naming the key and the file on failure);
//! 3. the arguments, with those appended, are parsed again, for real.
//!
//! Admin commands take the same file: they use the keys they share with `serve`
//! (`database`, `files-dir`) and leave the others, so that `openwelkin backup --config
//! /etc/openwelkin/openwelkin.toml --out …` finds the server's database.

use super::Cli;
use anyhow::{anyhow, Context};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, Parser};
use std::any::TypeId;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The id of the `--config` argument (in `DatabaseArg`).
const CONFIG: &str = "config";

/// Parses the command line, with the settings of the configuration file if it names one
/// (or `OPENWELKIN_CONFIG` does). A mistake on the command line itself exits the way clap
/// does (usage message, status 2); a mistake in the file is an error naming the file.
pub fn parse_from(args: impl IntoIterator<Item = impl Into<OsString>>) -> anyhow::Result<Cli> {
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Some((file, extra)) = file_arguments(&args)? else {
        return Ok(Cli::parse_from(args));
    };
    args.extend(extra);
    Cli::try_parse_from(&args).map_err(|e| {
        // clap's message without its usage lines: "error: …", details, blank, "Usage: …".
        let message = e.to_string();
        let lines: Vec<&str> = message
            .lines()
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let text = lines.join(" ");
        anyhow!("{} (with the settings of {})", text.trim_start_matches("error: "), file.display())
    })
}

/// The configuration file the command line or the environment names, and the arguments
/// its settings add. `None` when no file is named (or the command line is malformed, which
/// the real parse then reports).
fn file_arguments(args: &[OsString]) -> anyhow::Result<Option<(PathBuf, Vec<OsString>)>> {
    let mut command = Cli::command().ignore_errors(true);
    command.build();
    let Ok(matches) = command.clone().try_get_matches_from(args) else { return Ok(None) };
    let (leaf, leaf_matches) = leaf(&command, &matches);
    let Some(file) = leaf_matches.try_get_one::<PathBuf>(CONFIG).ok().flatten().cloned() else { return Ok(None) };
    let settings = read(&file)?;
    let serve = command.find_subcommand("serve").expect("the serve command exists");
    let extra = arguments(serve, leaf, leaf_matches, &settings).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    Ok(Some((file, extra)))
}

/// The subcommand that runs (`serve`, `tenants create`, …) and its matches.
fn leaf<'a>(mut command: &'a Command, mut matches: &'a ArgMatches) -> (&'a Command, &'a ArgMatches) {
    while let Some((name, sub)) = matches.subcommand() {
        let Some(c) = command.find_subcommand(name) else { break };
        command = c;
        matches = sub;
    }
    (command, matches)
}

fn read(file: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the configuration file {} (--config / OPENWELKIN_CONFIG)", file.display()))?;
    text.parse::<toml::Table>().map_err(|e| anyhow!("{} is not valid TOML: {e}", file.display()))
}

/// The flags a file may set: the long flags of a command, but for help, version and the
/// file itself.
fn settable(command: &Command) -> impl Iterator<Item = &Arg> {
    command
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !matches!(a.get_id().as_str(), "help" | "version" | CONFIG))
}

/// The arguments `settings` add to the command line of `leaf`: every key must be one of
/// `serve`'s flags, with a value `serve` takes; those `leaf` has and nobody set on the
/// command line or in the environment are added.
fn arguments(
    serve: &Command,
    leaf: &Command,
    matches: &ArgMatches,
    settings: &toml::Table,
) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for (key, value) in settings {
        let Some(serve_arg) = settable(serve).find(|a| a.get_long() == Some(key.as_str())) else {
            let known: Vec<&str> = settable(serve).filter_map(Arg::get_long).collect();
            return Err(format!(
                "unknown setting `{key}`; the settings are the flags of `serve`: {}",
                known.join(", ")
            ));
        };
        // Checked whatever the command: a mistake in the file shows with any of them.
        setting(serve_arg, key, value).map_err(|e| format!("setting `{key}`: {e}"))?;
        let Some(arg) = settable(leaf).find(|a| a.get_long() == Some(key.as_str())) else { continue };
        let source = matches.value_source(arg.get_id().as_str());
        if matches!(source, Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            continue;
        }
        out.extend(setting(arg, key, value).map_err(|e| format!("setting `{key}`: {e}"))?);
    }
    Ok(out)
}

/// `--key=value` (once per value of an array) for one setting, its type and value checked.
fn setting(arg: &Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let flag = format!("--{key}");
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => {
            let toml::Value::Boolean(on) = value else {
                return Err(format!("expected true or false, found {}", kind(value)));
            };
            let set_when = matches!(arg.get_action(), ArgAction::SetTrue);
            return Ok(if *on == set_when { vec![flag.into()] } else { Vec::new() });
        }
        action if !action.takes_values() => return Err("cannot be set in a configuration file".into()),
        _ => {}
    }
    let values: Vec<&toml::Value> = match value {
        toml::Value::Array(items) if takes_several(arg) => items.iter().collect(),
        toml::Value::Array(_) => return Err("expected one value, found an array".into()),
        one => vec![one],
    };
    let mut out = Vec::new();
    for value in values {
        let text = scalar(arg, value)?;
        check(arg, &text)?;
        out.push(format!("{flag}={text}").into());
    }
    Ok(out)
}

fn takes_several(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_value_delimiter().is_some()
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// What a flag's parser produces, as far as a TOML type goes.
#[derive(PartialEq, Eq)]
enum Expected {
    Integer,
    Number,
    Boolean,
    Text,
}

fn expected(arg: &Arg) -> Expected {
    let ty = arg.get_value_parser().type_id();
    let integers = [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ];
    if integers.iter().any(|t| ty == *t) {
        Expected::Integer
    } else if ty == TypeId::of::<f64>() || ty == TypeId::of::<f32>() {
        Expected::Number
    } else if ty == TypeId::of::<bool>() {
        Expected::Boolean
    } else {
        Expected::Text
    }
}

/// The text of one TOML value for a flag whose parser expects what `expected` says.
fn scalar(arg: &Arg, value: &toml::Value) -> Result<String, String> {
    use toml::Value as V;
    let want = expected(arg);
    match (value, &want) {
        (V::Integer(i), Expected::Integer | Expected::Number) => Ok(i.to_string()),
        (V::Float(f), Expected::Number) => Ok(f.to_string()),
        (V::Boolean(b), Expected::Boolean) => Ok(b.to_string()),
        (V::String(s), Expected::Text) => Ok(s.clone()),
        _ => {
            let want = match want {
                Expected::Integer => "an integer",
                Expected::Number => "a number",
                Expected::Boolean => "true or false",
                Expected::Text => "a string",
            };
            Err(format!("expected {want}, found {}", kind(value)))
        }
    }
}

/// Runs the flag's own parser on `text` (ranges, choices, numbers). The value itself is
/// left out of the message for flags that hold secrets.
fn check(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = Command::new("openwelkin")
        .no_binary_name(true)
        .arg(Arg::new("value").long("value").value_parser(arg.get_value_parser().clone()).action(ArgAction::Set));
    let Err(e) = probe.try_get_matches_from([format!("--value={text}")]) else { return Ok(()) };
    let shown = if arg.is_hide_env_values_set() { "the value".to_string() } else { format!("{text:?}") };
    if let Some(cause) = std::error::Error::source(&e) {
        return Err(format!("{shown} is not valid: {cause}"));
    }
    if let Some(clap::error::ContextValue::Strings(valid)) = e.get(clap::error::ContextKind::ValidValue) {
        return Err(format!("{shown} is not one of {}", valid.join(", ")));
    }
    Err(format!("{shown} is not valid"))
}

fn kind(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample configuration, as shipped.
    const SAMPLE: &str = include_str!("../../../../docs/openwelkin.toml");

    fn serve() -> Command {
        let mut command = Cli::command();
        command.build();
        command.find_subcommand("serve").unwrap().clone()
    }

    /// The arguments a file adds to `openwelkin serve ARGS` (no environment involved).
    fn added(file: &str, args: &[&str]) -> Result<Vec<String>, String> {
        let serve = serve();
        let settings: toml::Table = file.parse().map_err(|e| format!("{e}"))?;
        let matches = serve.clone().ignore_errors(true).try_get_matches_from(args.iter().copied()).unwrap();
        arguments(&serve, &serve, &matches, &settings)
            .map(|v| v.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    /// The sample with its commented-out settings (`# key = value`) switched on.
    fn sample_uncommented() -> String {
        SAMPLE
            .lines()
            .map(|line| {
                let rest = line.strip_prefix('#').map(str::trim_start).unwrap_or(line);
                let is_setting = rest.split_once('=').is_some_and(|(k, _)| {
                    let k = k.trim();
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                });
                if is_setting {
                    rest
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_sample_parses_and_sets_every_flag_of_serve() {
        // As shipped (the active settings only) …
        added(SAMPLE, &["serve"]).expect("the sample's active settings");
        // … and with every commented-out setting switched on.
        let full = sample_uncommented();
        let settings: toml::Table = full.parse().expect("the uncommented sample is TOML");
        let args = added(&full, &["serve"]).expect("every setting of the sample is valid");
        let serve = serve();
        let missing: Vec<&str> =
            settable(&serve).filter_map(Arg::get_long).filter(|long| !settings.contains_key(*long)).collect();
        assert!(missing.is_empty(), "docs/openwelkin.toml lacks these flags of serve: {missing:?}");
        // The whole command line they make is one `serve` accepts.
        let mut line = vec!["openwelkin".to_string(), "serve".to_string()];
        line.extend(args);
        Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_file_sets_what_the_command_line_leaves() {
        let file = "listen = \"127.0.0.1:9000\"\ndb-timeout-ms = 700\ndemo = true\nallow-private-webhooks = false";
        let args = added(file, &["serve"]).unwrap();
        assert_eq!(args, ["--db-timeout-ms=700", "--demo", "--listen=127.0.0.1:9000"].map(String::from));
        // A flag on the command line wins.
        let args = added(file, &["serve", "--listen", "127.0.0.1:0", "--demo"]).unwrap();
        assert_eq!(args, ["--db-timeout-ms=700".to_string()]);
    }

    #[test]
    fn the_log_format_is_carried_by_the_file_too() {
        // A global flag (every command logs), yet a setting of the file like serve's own.
        let dir = std::env::temp_dir().join(format!("openwelkin-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("log-format.toml");
        std::fs::write(&file, "log-format = \"json\"\n").unwrap();
        let config = file.to_str().unwrap();
        let cli = parse_from(["openwelkin", "serve", "--config", config]).unwrap();
        assert_eq!(cli.log_format, crate::telemetry::logs::LogFormat::Json);
        let cli = parse_from(["openwelkin", "serve", "--config", config, "--log-format", "text"]).unwrap();
        assert_eq!(cli.log_format, crate::telemetry::logs::LogFormat::Text, "the command line wins");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let e = added("listne = \"x\"", &["serve"]).unwrap_err();
        assert!(e.contains("unknown setting `listne`") && e.contains("listen"), "{e}");
        let e = added("[listen]\nport = 1", &["serve"]).unwrap_err();
        assert!(e.contains("`listen`") && e.contains("found a table"), "{e}");
        let e = added("listen = 8080", &["serve"]).unwrap_err();
        assert!(e.contains("`listen`: expected a string, found an integer"), "{e}");
        let e = added("db-timeout-ms = \"5000\"", &["serve"]).unwrap_err();
        assert!(e.contains("`db-timeout-ms`: expected an integer, found a string"), "{e}");
        let e = added("demo = \"yes\"", &["serve"]).unwrap_err();
        assert!(e.contains("`demo`: expected true or false"), "{e}");
        let e = added("db-timeout-ms = -1", &["serve"]).unwrap_err();
        assert!(e.contains("`db-timeout-ms`: \"-1\" is not valid"), "{e}");
        let e = added("max-connections = 0", &["serve"]).unwrap_err();
        assert!(e.contains("`max-connections`"), "{e}");
        let e = added("sms-provider = \"carrier-pigeon\"", &["serve"]).unwrap_err();
        assert!(e.contains("`sms-provider`") && e.contains("twilio"), "{e}");
        let e = added("config = \"other.toml\"", &["serve"]).unwrap_err();
        assert!(e.contains("unknown setting `config`"), "{e}");
    }

    #[test]
    fn secrets_are_not_repeated_in_errors() {
        let secret = Arg::new("pin").long("pin").value_parser(clap::value_parser!(u32)).hide_env_values(true);
        let e = check(&secret, "s3cret").unwrap_err();
        assert!(e.starts_with("the value is not valid") && !e.contains("s3cret"), "{e}");
        let plain = Arg::new("port").long("port").value_parser(clap::value_parser!(u32));
        assert!(check(&plain, "s3cret").unwrap_err().contains("\"s3cret\""));
    }
}
