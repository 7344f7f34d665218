//! The evaluation: accounts enrolled from `<person>_1.jpg`, then genuine attempts and attacks of
//! every species through the real protocol, counted the ISO/IEC 30107-3 way (APCER per attack
//! species: the share of its attacks accepted; BPCER: the share of genuine attempts refused).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

use crate::cast::Person;
use crate::client::{self, CheckReport, Pacing, Session};
use crate::render::{Framing, Head, HeadShape};
use crate::species::{MovedPhoto, Performer, Presenter, Recording, Replay, Species, StillPhoto};

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Genuine attempts.
    pub genuine: usize,
    /// Attempts of each attack species.
    pub attacks: usize,
    pub concurrency: usize,
    pub seed: u64,
    pub species: Vec<Species>,
}

/// One attempt: who the account is, who (or what) is in front of the camera.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub species: Species,
    pub account: usize,
    pub presenter: usize,
    pub seed: u64,
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempt: Attempt,
    /// The check passed and `finish` gave a `full` session.
    pub accepted: bool,
    /// `passed`, the failure's `code/reason`, or `error: ...`.
    pub label: String,
    pub prompts: Vec<String>,
    /// When each prompt came, seconds since the check was ready.
    pub prompt_times: Vec<f64>,
    /// For a replay: the prompts its recording answered and when (to compare with these).
    pub replayed: Option<Vec<(String, f64)>>,
    pub latencies_ms: Vec<f64>,
    /// How many frames got each `guidance`.
    pub guidance: BTreeMap<String, usize>,
    pub steps_passed: usize,
}

/// The accounts' usernames: one per person, suffixed so that runs never collide.
pub fn username(person: &Person, run: u64) -> String {
    format!("{}-{run:x}", person.name.replace('_', "-"))
}

/// Registers every person's account with their enrolment photo.
pub async fn enrol_all(base: &str, people: &[Person], run: u64) -> anyhow::Result<()> {
    for p in people {
        client::register(base, &username(p, run), p.enrol_photo.clone()).await?;
    }
    Ok(())
}

/// The attempts of a plan: genuine first (their recordings feed the replays), then the attacks
/// interleaved; accounts and other people rotate over the cast.
pub fn schedule(plan: &Plan, people: usize) -> Vec<Attempt> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut genuine = Vec::new();
    let mut attacks = Vec::new();
    for i in 0..plan.genuine.max(plan.attacks) {
        for &species in &plan.species {
            let wanted = if species.is_attack() {
                plan.attacks
            } else {
                plan.genuine
            };
            if i >= wanted {
                continue;
            }
            let account = i % people;
            let presenter = match species {
                Species::OtherPerson => (account + 1 + (i / people) % (people - 1).max(1)) % people,
                _ => account,
            };
            let a = Attempt {
                species,
                account,
                presenter,
                seed: rng.gen(),
            };
            if species == Species::Genuine {
                genuine.push(a);
            } else {
                attacks.push(a);
            }
        }
    }
    genuine.extend(attacks);
    genuine
}

/// Everything the attempts share.
pub struct Context {
    pub base: String,
    pub people: Vec<Person>,
    pub run: u64,
    /// Recordings of genuine attempts per account (and whether each passed), for the replays.
    pub recordings: Mutex<BTreeMap<usize, Vec<(bool, Recording)>>>,
}

/// Runs every attempt, `plan.concurrency` at a time (genuine ones all before any replay).
pub async fn run(ctx: Arc<Context>, plan: &Plan) -> Vec<AttemptResult> {
    let attempts = schedule(plan, ctx.people.len());
    let (genuine, attacks): (Vec<Attempt>, Vec<Attempt>) = attempts
        .into_iter()
        .partition(|a| a.species == Species::Genuine);
    let mut results = run_batch(&ctx, genuine, plan.concurrency).await;
    results.extend(run_batch(&ctx, attacks, plan.concurrency).await);
    results
}

async fn run_batch(
    ctx: &Arc<Context>,
    attempts: Vec<Attempt>,
    concurrency: usize,
) -> Vec<AttemptResult> {
    futures_util::stream::iter(attempts.into_iter().map(|a| {
        let ctx = Arc::clone(ctx);
        async move {
            let task = tokio::spawn(run_attempt(Arc::clone(&ctx), a));
            match task.await {
                Ok(r) => r,
                Err(e) => failed(a, format!("error: task {e}")),
            }
        }
    }))
    .buffer_unordered(concurrency.max(1))
    .enumerate()
    .map(|(i, r)| {
        if (i + 1) % 50 == 0 {
            eprintln!("  {} attempts done", i + 1);
        }
        r
    })
    .collect()
    .await
}

fn failed(attempt: Attempt, label: String) -> AttemptResult {
    AttemptResult {
        attempt,
        accepted: false,
        label,
        prompts: Vec::new(),
        prompt_times: Vec::new(),
        replayed: None,
        latencies_ms: Vec::new(),
        guidance: BTreeMap::new(),
        steps_passed: 0,
    }
}

/// One attempt from login to `finish`.
pub async fn run_attempt(ctx: Arc<Context>, attempt: Attempt) -> AttemptResult {
    match try_attempt(&ctx, attempt).await {
        Ok(r) => r,
        Err(e) => failed(attempt, format!("error: {e:#}")),
    }
}

async fn try_attempt(ctx: &Context, attempt: Attempt) -> anyhow::Result<AttemptResult> {
    let account = &ctx.people[attempt.account];
    let (mut presenter, replayed) = presenter(ctx, attempt).await?;
    let session = Session::login(&ctx.base, &username(account, ctx.run)).await?;
    let pacing = Pacing {
        record: attempt.species == Species::Genuine,
        ..Pacing::default()
    };
    let mut report = client::live_check(&session, presenter.as_mut(), pacing).await?;
    let accepted = accepted(&session, &report).await;
    if attempt.species == Species::Genuine {
        report.recording.prompts = timed_prompts(&report);
        let mut recordings = ctx.recordings.lock().await;
        let list = recordings.entry(attempt.account).or_default();
        list.push((report.passed(), report.recording.clone()));
    }
    let label = match &accepted {
        Err(e) => format!("finish_failed: {e:#}"),
        Ok(_) => report.label(),
    };
    let mut guidance = BTreeMap::new();
    for g in &report.guidance {
        *guidance.entry(g.clone()).or_default() += 1;
    }
    Ok(AttemptResult {
        attempt,
        accepted: matches!(accepted, Ok(true)),
        label,
        prompts: report.prompts,
        prompt_times: report.prompt_times,
        replayed,
        latencies_ms: report.latencies_ms,
        guidance,
        steps_passed: report.steps_passed,
    })
}

/// A passed check is accepted when its ticket gives a `full` session.
async fn accepted(session: &Session, report: &CheckReport) -> anyhow::Result<bool> {
    match (&report.ticket, report.passed()) {
        (Some(ticket), true) => Ok(session.finish(ticket).await? == "full"),
        (None, true) => anyhow::bail!("passed without a ticket"),
        _ => Ok(false),
    }
}

/// The head of `person` for one attempt: a random webcam framing and head shape.
fn head_for(person: &Person, rng: &mut StdRng) -> Head {
    Head::new(
        &person.photo,
        Framing::random_webcam(rng),
        HeadShape::random(rng),
    )
}

fn timed_prompts(report: &CheckReport) -> Vec<(String, f64)> {
    report
        .prompts
        .iter()
        .cloned()
        .zip(report.prompt_times.iter().copied())
        .collect()
}

/// The presenter of `attempt`, and for a replay the prompts its recording answered.
async fn presenter(
    ctx: &Context,
    attempt: Attempt,
) -> anyhow::Result<(Box<dyn Presenter>, Option<Vec<(String, f64)>>)> {
    let mut rng = StdRng::seed_from_u64(attempt.seed);
    let person = &ctx.people[attempt.presenter];
    Ok(match attempt.species {
        Species::Genuine | Species::OtherPerson => (
            Box::new(Performer::new(head_for(person, &mut rng), attempt.seed)),
            None,
        ),
        Species::StillPhoto => (
            Box::new(StillPhoto::new(head_for(person, &mut rng), attempt.seed)),
            None,
        ),
        Species::MovedPhoto => (
            Box::new(MovedPhoto::new(&head_for(person, &mut rng), attempt.seed)),
            None,
        ),
        Species::Replay => {
            let replay = Replay::new(replay_source(ctx, attempt, &mut rng).await?);
            let replayed = Some(replay.recorded_prompts().to_vec());
            (Box::new(replay), replayed)
        }
    })
}

/// A recording of a genuine attempt on the same account, a passed one when there is one
/// (recorded now if there is none at all).
async fn replay_source(
    ctx: &Context,
    attempt: Attempt,
    rng: &mut StdRng,
) -> anyhow::Result<Recording> {
    {
        let recordings = ctx.recordings.lock().await;
        let list = recordings
            .get(&attempt.account)
            .map_or(&[][..], Vec::as_slice);
        let passed: Vec<&Recording> = list.iter().filter(|r| r.0).map(|r| &r.1).collect();
        let any: Vec<&Recording> = list.iter().map(|r| &r.1).collect();
        let pool = if passed.is_empty() { any } else { passed };
        if !pool.is_empty() {
            return Ok(pool[rng.gen_range(0..pool.len())].clone());
        }
    }
    for _ in 0..3 {
        let account = &ctx.people[attempt.account];
        let session = Session::login(&ctx.base, &username(account, ctx.run)).await?;
        let mut performer = Performer::new(head_for(account, rng), rng.gen());
        let pacing = Pacing {
            record: true,
            ..Pacing::default()
        };
        let report = client::live_check(&session, &mut performer, pacing).await?;
        if report.passed() || !report.recording.frames.is_empty() {
            let prompts = timed_prompts(&report);
            return Ok(Recording {
                prompts,
                ..report.recording
            });
        }
    }
    anyhow::bail!("no genuine attempt could be recorded for the replay")
}

/// Per species: attempts, accepted, and the labels counted.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub attempts: usize,
    pub accepted: usize,
    pub labels: BTreeMap<String, usize>,
}

pub fn tally(results: &[AttemptResult]) -> BTreeMap<Species, Tally> {
    let mut out: BTreeMap<Species, Tally> = BTreeMap::new();
    for r in results {
        let t = out.entry(r.attempt.species).or_default();
        t.attempts += 1;
        t.accepted += usize::from(r.accepted);
        *t.labels.entry(short_label(&r.label)).or_default() += 1;
    }
    out
}

/// Errors keep their first line only, so that they count together.
fn short_label(label: &str) -> String {
    label
        .lines()
        .next()
        .unwrap_or(label)
        .chars()
        .take(90)
        .collect()
}

/// The results table: APCER per attack species, BPCER for genuine, and why attempts ended.
pub fn print_table(tallies: &BTreeMap<Species, Tally>) {
    println!(
        "{:<14} {:>8} {:>9} {:>8} {:>8}   95% upper bound",
        "species", "attempts", "accepted", "APCER", "BPCER"
    );
    for (species, t) in tallies {
        let n = t.attempts.max(1) as f64;
        if species.is_attack() {
            let rate = t.accepted as f64 / n;
            println!(
                "{:<14} {:>8} {:>9} {:>7.1}% {:>8}   {:.1}%",
                species.name(),
                t.attempts,
                t.accepted,
                100.0 * rate,
                "",
                100.0 * upper_bound(t.accepted, t.attempts)
            );
        } else {
            let refused = t.attempts - t.accepted;
            println!(
                "{:<14} {:>8} {:>9} {:>8} {:>7.1}%   {:.1}%",
                species.name(),
                t.attempts,
                t.accepted,
                "",
                100.0 * refused as f64 / n,
                100.0 * upper_bound(refused, t.attempts)
            );
        }
    }
    println!();
    println!("how attempts ended (result code/reason):");
    for (species, t) in tallies {
        let labels: Vec<String> = t.labels.iter().map(|(l, n)| format!("{l} {n}")).collect();
        println!("  {:<14} {}", species.name(), labels.join(", "));
    }
}

/// A one-sided 95 % upper confidence bound of a rate of `k` in `n` (the "rule of three" at
/// k = 0, Wilson's score bound otherwise).
pub fn upper_bound(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let n = n as f64;
    if k == 0 {
        return (3.0 / n).min(1.0);
    }
    let p = k as f64 / n;
    let z = 1.645f64;
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z * z / n)).min(1.0)
}

/// One JSON line per attempt: species, account, presenter, accepted, label, prompts, latencies.
pub fn write_log(path: &std::path::Path, results: &[AttemptResult]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in results {
        let line = serde_json::json!({
            "species": r.attempt.species.name(),
            "account": r.attempt.account,
            "presenter": r.attempt.presenter,
            "seed": r.attempt.seed,
            "accepted": r.accepted,
            "label": r.label,
            "prompts": r.prompts,
            "prompt_times": r.prompt_times,
            "replayed": r.replayed,
            "frames": r.latencies_ms.len(),
            "guidance": r.guidance,
            "steps_passed": r.steps_passed,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}
