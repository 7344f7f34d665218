//! `liveness-eval`: see the crate's README.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Presentation attack evaluation of facegate's live face check")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Renders every person at fixed poses and as moved flat pictures, and prints what the
    /// face engine sees (descriptor distance, nose position, nose parallax, happy score).
    Probe {
        #[arg(long, env = "FACEGATE_SHARED_FACES", default_value = "../shared/faces")]
        faces: PathBuf,
    },
    /// Writes PNGs of the rendered poses.
    Dump {
        #[arg(long, env = "FACEGATE_SHARED_FACES", default_value = "../shared/faces")]
        faces: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Probe { faces } => {
            let engine = face::Engine::load(&face::models::default_dir())?;
            for person in liveness_eval_people() {
                let enrol = std::fs::read(faces.join(format!("{person}_1.jpg")))?;
                let render = std::fs::read(faces.join(format!("{person}_2.jpg")))?;
                let rows = liveness_eval::probe::probe_person(&engine, person, &enrol, &render)?;
                liveness_eval::probe::print_rows(&rows);
            }
        }
        Command::Dump { faces, out } => {
            let engine = face::Engine::load(&face::models::default_dir())?;
            std::fs::create_dir_all(&out)?;
            for person in liveness_eval_people() {
                let render = std::fs::read(faces.join(format!("{person}_2.jpg")))?;
                liveness_eval::probe::dump_person(&engine, &render, person, &out)?;
            }
        }
    }
    Ok(())
}

fn liveness_eval_people() -> [&'static str; 5] {
    [
        "obama",
        "biden",
        "kit_harington",
        "rose_leslie",
        "alex_lacamoire",
    ]
}
