//! `liveness-eval`: presentation attack evaluation and capacity of facegate's live face check
//! (see the crate's README).
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use liveness_eval::cast::{self, Person};
use liveness_eval::eval::{self, Plan};
use liveness_eval::server::{self, ChildServer};
use liveness_eval::species::Species;
use liveness_eval::{capacity, probe, y4m};

#[derive(Parser)]
#[command(
    about = "Presentation attack evaluation (APCER/BPCER) and capacity of facegate's live face check"
)]
struct Cli {
    #[command(flatten)]
    paths: Paths,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Paths {
    /// The photos (`<person>_1.jpg` enrols, `<person>_2.jpg` is rendered).
    #[arg(long, global = true, env = "FACEGATE_SHARED_FACES")]
    faces: Option<PathBuf>,
    /// The face-api.js models.
    #[arg(long, global = true, env = "FACEGATE_MODELS")]
    models: Option<PathBuf>,
    /// The server binary to evaluate.
    #[arg(long, global = true, env = "FACEGATE_BIN")]
    server: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// APCER per attack species and BPCER, through the real protocol against a fresh server.
    Eval {
        /// Attempts of each species (genuine included).
        #[arg(long, default_value_t = 200)]
        attempts: usize,
        /// Checks run at once (keep it below what the server holds at 8 frames/s, see
        /// `capacity`, or the overload itself refuses genuine users).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Extra server settings, `KEY=VALUE` (e.g. FACEGATE_FACE_LIVENESS_ACTIONS=...).
        #[arg(long = "server-env")]
        server_env: Vec<String>,
        /// Also write one JSON line per attempt here.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Only these species (comma-separated: genuine, still_photo, moved_photo, replay,
        /// other_person).
        #[arg(long, value_delimiter = ',')]
        species: Vec<String>,
    },
    /// Live checks held at once at 8 frames/s: p50/p99 frame-to-answer latency, server CPU.
    Capacity {
        /// Comma-separated numbers of sessions held at once.
        #[arg(long, default_value = "10,20,30", value_delimiter = ',')]
        sessions: Vec<usize>,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Checks run one at a time to measure the server CPU per check.
        #[arg(long, default_value_t = 7)]
        sequential: usize,
        #[arg(long = "server-env")]
        server_env: Vec<String>,
    },
    /// Fake-webcam clips (YUV4MPEG2) of a genuine person following the fixed script
    /// turn_left,turn_right and of each attack species, for Chromium's fake camera.
    Y4m {
        #[arg(long)]
        out: PathBuf,
        /// WIDTHxHEIGHT: 320x240 or 640x480.
        #[arg(long, default_value = "320x240")]
        size: String,
        #[arg(long, default_value_t = 15)]
        fps: u32,
        /// The people whose account the clips are for (the other-person clip shows the next one).
        #[arg(long, default_value = "obama,biden", value_delimiter = ',')]
        people: Vec<String>,
    },
    /// What the face engine sees on rendered turns and on flat warps of the same face.
    Probe {
        /// Also write PNGs of the rendered poses here.
        #[arg(long)]
        png: Option<PathBuf>,
        /// Instead: the detection rate over this many simulated performances per person.
        #[arg(long)]
        sequences: Option<u64>,
    },
}

struct Setup {
    engine: face::Engine,
    people: Vec<Person>,
    models: PathBuf,
    server: PathBuf,
}

fn setup(paths: Paths) -> anyhow::Result<Setup> {
    let models = paths.models.unwrap_or_else(cast::default_models_dir);
    let faces = paths.faces.unwrap_or_else(cast::default_faces_dir);
    let engine = cast::load_engine(&models)?;
    let people = cast::load_people(&engine, &faces)?;
    Ok(Setup {
        engine,
        people,
        models,
        server: paths.server.unwrap_or_else(server::default_binary),
    })
}

fn parse_env(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').context("--server-env wants KEY=VALUE")?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let setup = setup(cli.paths)?;
    match cli.command {
        Command::Eval {
            attempts,
            concurrency,
            seed,
            server_env,
            log,
            species,
        } => {
            let species = if species.is_empty() {
                Species::ALL.to_vec()
            } else {
                species
                    .iter()
                    .map(|s| Species::parse(s).with_context(|| format!("unknown species {s}")))
                    .collect::<anyhow::Result<_>>()?
            };
            let plan = Plan {
                genuine: attempts,
                attacks: attempts,
                concurrency,
                seed,
                species,
            };
            run_eval(setup, &plan, &parse_env(&server_env)?, log).await
        }
        Command::Capacity {
            sessions,
            seconds,
            sequential,
            server_env,
        } => {
            run_capacity(
                setup,
                &sessions,
                seconds,
                sequential,
                &parse_env(&server_env)?,
            )
            .await
        }
        Command::Y4m {
            out,
            size,
            fps,
            people,
        } => run_y4m(&setup, &out, &size, fps, &people),
        Command::Probe {
            sequences: Some(n), ..
        } => {
            for person in &setup.people {
                for (phase, found, frames) in probe::sequence_detection(&setup.engine, person, n)? {
                    println!(
                        "{:<15} {phase:<10} one face in {found:>4} of {frames:>4} frames",
                        person.name
                    );
                }
            }
            Ok(())
        }
        Command::Probe { png, .. } => run_probe(&setup, png),
    }
}

async fn run_eval(
    setup: Setup,
    plan: &Plan,
    env: &[(String, String)],
    log: Option<PathBuf>,
) -> anyhow::Result<()> {
    let server = ChildServer::start(&setup.server, &setup.models, env).await?;
    let run = std::process::id() as u64;
    eval::enrol_all(&server.base, &setup.people, run).await?;
    println!(
        "liveness eval: {} attempts per species, {} at once, server {} (pid {})",
        plan.attacks, plan.concurrency, server.base, server.pid
    );
    let ctx = Arc::new(eval::Context {
        base: server.base.clone(),
        people: setup.people,
        run,
        recordings: Default::default(),
    });
    let started = std::time::Instant::now();
    let results = eval::run(ctx, plan).await;
    if let Some(path) = log {
        eval::write_log(&path, &results)?;
    }
    println!(
        "({} attempts in {:.0} s)\n",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    eval::print_table(&eval::tally(&results));
    server.stop().await;
    Ok(())
}

async fn run_capacity(
    setup: Setup,
    sessions: &[usize],
    seconds: u64,
    sequential: usize,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let server = ChildServer::start(&setup.server, &setup.models, env).await?;
    let run = std::process::id() as u64;
    eval::enrol_all(&server.base, &setup.people, run).await?;
    let sitters = capacity::sitters(&setup.people, run)?;
    let pid = server.pid;
    let cpu = move || server::cpu_seconds(pid);
    let mut per_check = capacity::cpu_per_check(&server.base, &sitters[0], sequential, cpu).await?;
    println!(
        "server CPU per completed live check, {} checks one at a time: median {:.2} s (min {:.2}, max {:.2})",
        per_check.len(),
        capacity::percentile(&mut per_check, 0.5),
        per_check.first().copied().unwrap_or(f64::NAN),
        per_check.last().copied().unwrap_or(f64::NAN),
    );
    let mut levels = Vec::new();
    for &n in sessions {
        levels.push(capacity::hold(&server.base, &sitters, n, seconds, cpu).await);
        capacity::print_levels(&levels[levels.len() - 1..]);
    }
    println!("\nlive checks held at once at 8 frames/s, {seconds} s each:");
    capacity::print_levels(&levels);
    server.stop().await;
    Ok(())
}

fn run_y4m(
    setup: &Setup,
    out: &std::path::Path,
    size: &str,
    fps: u32,
    people: &[String],
) -> anyhow::Result<()> {
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .context("--size wants WIDTHxHEIGHT")?;
    let format = y4m::ClipFormat {
        width: w,
        height: h,
        fps,
    };
    let find = |name: &str| setup.people.iter().position(|p| p.name == name);
    let mut files = Vec::new();
    for name in people {
        let i = find(name).with_context(|| format!("no person {name}"))?;
        let other = &setup.people[(i + 1) % setup.people.len()];
        files.extend(y4m::write_clips(out, &setup.people[i], other, format)?);
    }
    y4m::write_manifest(out, &files, format)?;
    for f in &files {
        println!("{}", out.join(f).display());
    }
    Ok(())
}

fn run_probe(setup: &Setup, png: Option<PathBuf>) -> anyhow::Result<()> {
    for person in &setup.people {
        let rows = probe::probe_person(&setup.engine, person)?;
        probe::print_rows(&rows);
        if let Some(dir) = &png {
            std::fs::create_dir_all(dir)?;
            probe::write_pngs(person, dir)?;
        }
    }
    Ok(())
}
