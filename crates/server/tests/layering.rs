//! The server's layering, checked on its source: the HTTP edge may use the node's state and the
//! services, the services may use storage and the bus, and nothing imports upwards. A newcomer
//! reads the layers in `lib.rs`; this test keeps them true.
//!
//! A module's imports are the `crate::<module>` paths in its files, outside comments and
//! `#[cfg(test)]` blocks (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules from the top down. A module may use modules of its own layer or below.
const LAYERS: &[(&str, &[&str])] = &[
    ("edge", &["serve", "api", "web", "ops", "admin", "bench"]),
    ("node", &["app"]),
    (
        "services",
        &[
            "auth",
            "chat",
            "liveness",
            "faces",
            "email",
            "transfer",
            "ratelimit",
        ],
    ),
    ("storage and bus", &["storage", "bus"]),
    (
        "foundation",
        &[
            "config", "crypto", "error", "metrics", "pool", "proxy", "shutdown", "text",
        ],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The source without comments and `#[cfg(test)]` items. The code is rustfmt-formatted, so an
/// item ends at the first `}` line with the indentation of its first line.
fn code_of(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            let Some(item) = lines.next() else { break };
            if item.trim_end().ends_with('{') {
                let indent = &item[..item.len() - item.trim_start().len()];
                let end = format!("{indent}}}");
                lines.by_ref().find(|l| l.trim_end() == end);
            }
            continue;
        }
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// The top-level modules `code` names as `crate::X`, also inside `use crate::{X, Y}`.
fn imports_of(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading the source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// For each top-level module, the other top-level modules it imports and the files that do.
fn module_imports(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("readable source");
        let entry = graph.entry(module.clone()).or_default();
        for target in imports_of(&code_of(&source)) {
            if target != module {
                entry
                    .entry(target)
                    .or_default()
                    .insert(relative.display().to_string());
            }
        }
    }
    graph
}

/// Every import that goes up a layer, or names a module no layer lists.
fn violations(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Vec<String> {
    let mut found = Vec::new();
    for (module, targets) in graph {
        let Some(own) = layer_of(module) else {
            found.push(format!(
                "module `{module}` is in no layer: add it to LAYERS"
            ));
            continue;
        };
        for (target, files) in targets {
            match layer_of(target) {
                None => found.push(format!(
                    "`{module}` imports `{target}`, which is in no layer"
                )),
                Some(theirs) if theirs < own => found.push(format!(
                    "`{module}` ({}) imports `{target}` ({}), a layer above it, in {files:?}",
                    LAYERS[own].0, LAYERS[theirs].0
                )),
                Some(_) => {}
            }
        }
    }
    found
}

/// Import cycles among the modules of one layer (a cycle across layers is already an upward
/// import).
fn cycles(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Vec<Vec<String>> {
    fn reaches(
        graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let Some(targets) = graph.get(from) else {
            return false;
        };
        for next in targets.keys() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) && reaches(graph, next, to, seen) {
                return true;
            }
        }
        false
    }
    let mut found = Vec::new();
    for (module, targets) in graph {
        for target in targets.keys() {
            if reaches(graph, target, module, &mut BTreeSet::new()) {
                found.push(vec![module.clone(), target.clone()]);
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_layer_above_it_and_no_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_imports(&src);
    let upward = violations(&graph);
    assert!(
        upward.is_empty(),
        "imports going up:\n{}",
        upward.join("\n")
    );
    let cyclic = cycles(&graph);
    assert!(cyclic.is_empty(), "modules in an import cycle: {cyclic:?}");
}

#[test]
fn the_checker_sees_an_upward_import_and_a_cycle() {
    let code = code_of(
        "use crate::{config, api::x};\n// crate::serve in a comment\nfn f() { crate::storage::Db::x(); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::serve;\n}\nfn g() { crate::api::x(); }\n",
    );
    let imports = imports_of(&code);
    assert_eq!(
        imports,
        ["api", "config", "storage"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let mut graph = BTreeMap::new();
    let edge = |to: &str| (to.to_owned(), BTreeSet::from(["x.rs".to_owned()]));
    graph.insert(
        "auth".to_owned(),
        BTreeMap::from([edge("api"), edge("chat")]),
    );
    graph.insert("chat".to_owned(), BTreeMap::from([edge("auth")]));
    let upward = violations(&graph);
    assert_eq!(upward.len(), 1, "{upward:?}");
    assert!(upward[0].contains("`auth` (services) imports `api` (edge)"));
    assert_eq!(cycles(&graph).len(), 2);
}
