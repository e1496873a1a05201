//! The command line: which modes to run, how hard, and how to watch them. Parsing only;
//! what the numbers mean for a run is decided in `plan.rs`.

use std::time::Duration;

pub const USAGE: &str =
    "usage: soak [single|many|all] [--events N] [--reconnects N] [--clients N] \
                     [--seconds N] [--rate N] [--delivery callback|poll|mixed] \
                     [--sample-ms N] [--print-ms N] [--repeat N]";

/// Which runs: `single` (one client, counts), `many` (a herd, a duration), or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Single,
    Many,
    All,
}

/// How events reach the host: callbacks on the worker thread, the poll queue, or half and
/// half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Callback,
    Poll,
    Mixed,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Callback => "callback",
            Delivery::Poll => "poll",
            Delivery::Mixed => "mixed",
        }
    }

    /// Whether client number `index` is a polled one.
    pub fn polled(self, index: usize) -> bool {
        match self {
            Delivery::Callback => false,
            Delivery::Poll => true,
            Delivery::Mixed => index % 2 == 1,
        }
    }
}

/// The options as given. `None` means "the mode's default": `single` and `many` want
/// different reconnect counts, durations and deliveries (see `plan.rs`).
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    pub events: u64,
    pub reconnects: Option<u64>,
    pub clients: usize,
    pub seconds: Option<f64>,
    pub rate: u64,
    pub delivery: Option<Delivery>,
    pub sample_every: Duration,
    pub print_every: Duration,
    pub repeat: u64,
}

pub fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        mode: Mode::All,
        events: 1_000_000,
        reconnects: None,
        clients: 200,
        seconds: None,
        rate: 50,
        delivery: None,
        sample_every: Duration::from_millis(250),
        print_every: Duration::from_millis(1000),
        repeat: 1,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "single" => options.mode = Mode::Single,
            "many" => options.mode = Mode::Many,
            "all" => options.mode = Mode::All,
            "-h" | "--help" => return Err(String::new()),
            _ => {
                let (name, inline) = match arg.split_once('=') {
                    Some((name, value)) => (name.to_string(), Some(value.to_string())),
                    None => (arg.clone(), None),
                };
                let value = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))?;
                let number = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: not a number: {value:?}"))
                };
                match name.as_str() {
                    "--events" => options.events = number()?.max(1),
                    "--reconnects" => options.reconnects = Some(number()?),
                    "--clients" => options.clients = number()?.max(1) as usize,
                    "--seconds" => {
                        let seconds = value
                            .parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .ok_or_else(|| format!("{name}: not a duration: {value:?}"))?;
                        options.seconds = Some(seconds);
                    }
                    "--rate" => options.rate = number()?.max(1),
                    "--delivery" => {
                        options.delivery = Some(match value.as_str() {
                            "callback" => Delivery::Callback,
                            "poll" => Delivery::Poll,
                            "mixed" => Delivery::Mixed,
                            _ => return Err(format!("--delivery: unknown {value:?}")),
                        })
                    }
                    "--sample-ms" => {
                        options.sample_every = Duration::from_millis(number()?.max(10))
                    }
                    "--print-ms" => options.print_every = Duration::from_millis(number()?),
                    "--repeat" => options.repeat = number()?.max(1),
                    _ => return Err(format!("unknown option {name:?}")),
                }
            }
        }
    }
    Ok(options)
}
