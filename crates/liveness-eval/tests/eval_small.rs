//! Small evaluations through the real protocol against the real server binary
//! (`target/release/facegate`, or `$FACEGATE_BIN`): every attack species fails, each attempt
//! ends with a result from the server (never a client error), and rendered genuine users pass.
//!
//! Needs the release binary, the models and `../shared/faces`: without them the test fails and
//! says which is missing.

use std::collections::BTreeMap;
use std::sync::Arc;

use liveness_eval::cast;
use liveness_eval::eval::{self, Plan};
use liveness_eval::server::{self, ChildServer};
use liveness_eval::species::Species;

async fn small_evaluation(
    plan: Plan,
) -> (Vec<eval::AttemptResult>, BTreeMap<Species, eval::Tally>) {
    let models = cast::default_models_dir();
    let engine = cast::load_engine(&models).unwrap_or_else(|e| panic!("{e:#}"));
    let people =
        cast::load_people(&engine, &cast::default_faces_dir()).unwrap_or_else(|e| panic!("{e:#}"));
    drop(engine);
    let server = ChildServer::start(&server::default_binary(), &models, &[])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let run = u64::from(std::process::id()) ^ plan.seed;
    eval::enrol_all(&server.base, &people, run)
        .await
        .expect("enrol the evaluation accounts");
    let ctx = Arc::new(eval::Context {
        base: server.base.clone(),
        people,
        run,
        recordings: Default::default(),
    });
    let results = eval::run(ctx, &plan).await;
    let tallies = eval::tally(&results);
    eval::print_table(&tallies);
    server.stop().await;
    for r in &results {
        let l = &r.label;
        assert!(
            !(l.starts_with("error") || l.starts_with("refused") || l.starts_with("broken")),
            "{:?} ended without a server result: {l} (does the server have GET /api/face/live? \
             rebuild target/release/facegate)",
            r.attempt.species
        );
    }
    (results, tallies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_evaluation_refuses_every_attack_species() {
    let plan = Plan {
        genuine: 4,
        attacks: 3,
        concurrency: 2,
        seed: 7,
        species: Species::ALL.to_vec(),
    };
    let (_, tallies) = small_evaluation(plan).await;
    for (species, t) in &tallies {
        if species.is_attack() {
            assert_eq!(t.accepted, 0, "{} accepted: {:?}", species.name(), t.labels);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_evaluation_passes_rendered_genuine_users() {
    // BPCER measured at 10 % (2 of 20): 6 attempts with at most 2 refused fails by chance
    // about once in 60 runs, while a broken check (most genuine users refused) always fails.
    let plan = Plan {
        genuine: 6,
        attacks: 0,
        concurrency: 2,
        seed: 8,
        species: vec![Species::Genuine],
    };
    let (_, tallies) = small_evaluation(plan).await;
    let genuine = &tallies[&Species::Genuine];
    assert!(
        genuine.attempts - genuine.accepted <= 2,
        "genuine attempts refused: {:?}",
        genuine.labels
    );
}
