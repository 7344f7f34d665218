//! A small evaluation through the real protocol against the real server binary
//! (`target/release/facegate`, or `$FACEGATE_BIN`): rendered genuine users pass, every attack
//! species fails, and each attempt ends with a result from the server, never a client error.
//!
//! Needs the release binary, the models and `../shared/faces`: without them the test fails and
//! says which is missing.

use std::sync::Arc;

use liveness_eval::cast;
use liveness_eval::eval::{self, Plan};
use liveness_eval::server::{self, ChildServer};
use liveness_eval::species::Species;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_evaluation_passes_genuine_users_and_refuses_every_attack_species() {
    let models = cast::default_models_dir();
    let engine = cast::load_engine(&models).unwrap_or_else(|e| panic!("{e:#}"));
    let people =
        cast::load_people(&engine, &cast::default_faces_dir()).unwrap_or_else(|e| panic!("{e:#}"));
    drop(engine);
    let server = ChildServer::start(&server::default_binary(), &models, &[])
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let run = u64::from(std::process::id());
    eval::enrol_all(&server.base, &people, run)
        .await
        .expect("enrol the evaluation accounts");
    let ctx = Arc::new(eval::Context {
        base: server.base.clone(),
        people,
        run,
        recordings: Default::default(),
    });
    let plan = Plan {
        genuine: 4,
        attacks: 3,
        concurrency: 4,
        seed: 7,
        species: Species::ALL.to_vec(),
    };
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
    let genuine = &tallies[&Species::Genuine];
    assert!(
        genuine.attempts - genuine.accepted <= 1,
        "genuine attempts refused: {:?}",
        genuine.labels
    );
    for (species, t) in &tallies {
        if species.is_attack() {
            assert_eq!(t.accepted, 0, "{} accepted: {:?}", species.name(), t.labels);
        }
    }
}
