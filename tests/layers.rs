//! The house's floor plan, checked: imports between the top-level modules of `src/` point one
//! way, down the layers below, and never form a cycle.
//!
//! Run it alone with `cargo test --test layers -- --nocapture`, which also prints which module
//! imports which. It reads the source as text: `crate::x`, `$crate::x` and `super::` paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the ground up. A module may import its own layer and the layers below it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf",
        &[
            "clock",
            "config",
            "crypto",
            "domain",
            "error",
            "metrics",
            "telemetry",
        ],
    ),
    ("persistence", &["db", "repo", "store"]),
    ("actors", &["actors"]),
    (
        "services",
        &[
            "auth",
            "oauth2",
            "login_log",
            "admin",
            "events",
            "mail",
            "account",
            "oidc",
        ],
    ),
    ("web", &["web"]),
    ("composition roots", &["startup", "cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src`: `src/auth/jwt.rs` -> [auth, jwt]; `mod.rs` names its folder.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Drops line comments, so that prose naming a path is not an import.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file names through `crate::`, `crate::{..}` or `super::`.
fn referenced(text: &str, module: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code = code_only(text);
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the names at depth one.
            let mut depth = 1;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => start = true,
                    c if start && depth == 1 && !c.is_whitespace() => {
                        found.insert(ident_at(&group[j..]).to_owned());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident_at(rest).to_owned());
        }
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut rest = &code[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        // `super` of a module at depth d is its parent; at the top it is the crate root.
        if module.len() <= ups {
            found.insert(ident_at(rest).to_owned());
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Every top-level module's imports of other top-level modules.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("below src");
        let module = module_path(rel);
        let Some(top) = module.first().cloned() else {
            continue;
        };
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let entry = edges.entry(top.clone()).or_default();
        for m in referenced(&text, &module) {
            if m != top {
                entry.insert(m);
            }
        }
    }
    // `crate::some_macro!` names a macro at the root, not a module.
    let modules: BTreeSet<String> = edges.keys().cloned().collect();
    for tos in edges.values_mut() {
        tos.retain(|m| modules.contains(m));
    }
    edges
}

fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components; any with more than one module is a cycle.
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn imports_point_down_the_layers_and_form_no_cycle() {
    let edges = graph();
    println!("which top-level module imports which (by layer, ground first):");
    for (name, modules) in LAYERS {
        println!("  {name}:");
        for m in *modules {
            if let Some(to) = edges.get(*m) {
                let to: Vec<&str> = to.iter().map(String::as_str).collect();
                println!("    {m:<10} -> {}", to.join(", "));
            }
        }
    }
    let mut problems = Vec::new();
    for (from, tos) in &edges {
        let Some(lf) = layer_of(from) else {
            problems.push(format!(
                "src/{from} is in no layer: add it to LAYERS in tests/layers.rs"
            ));
            continue;
        };
        for to in tos {
            match layer_of(to) {
                Some(lt) if lt > lf => problems.push(format!(
                    "{from} ({}) imports {to} ({}), a higher layer",
                    LAYERS[lf].0, LAYERS[lt].0
                )),
                _ => {}
            }
        }
    }
    for cycle in cycles(&edges) {
        problems.push(format!("cycle among: {}", cycle.join(", ")));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_relative_imports() {
    let text = "use crate::{auth::jwt, store::{A, B}, clock};\nuse super::super::db::X;\n\
                // crate::routes is only mentioned\nlet x = $crate::repo::f();";
    let found = referenced(text, &["web".into(), "routes".into()]);
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["auth", "clock", "db", "repo", "store"]);
    let inner = referenced("use super::Thing;", &["auth".into(), "jwt".into()]);
    assert!(inner.is_empty(), "super of auth::jwt is auth itself");
}
