//! No import loops in the core: between its top-level modules (`notary` → `reference` but never
//! back), and between sibling modules of one folder (`notary/select.rs` → `notary/roles.rs`).
//! A module and its own children may use each other freely; that is inherent in Rust.
//!
//! The source is read as text: `use` trees and `crate::`/`super::`/`self::` paths, with comments,
//! strings and `#[cfg(test)]` modules left out (as are `tests.rs` files and `tests/` folders).
//! A path through a `pub use` counts for both the module named and the one re-exported from.
//! Run with `--nocapture` to print the graph.

extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use core::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A module's path from the crate root: `[]` is `lib.rs`, `["notary", "keys"]` is `notary/keys.rs`.
type Module = Vec<String>;

/// An edge `from → to` between siblings, with the first file and path that made it.
type Edges = BTreeMap<(Module, Module), (PathBuf, String)>;

#[test]
fn top_level_modules_have_no_import_loops() {
    let edges = edges(&source());
    let top: Edges = edges
        .into_iter()
        .filter(|((from, _), _)| from.len() == 1)
        .collect();
    let mut listing = String::new();
    for (from, to) in top.keys() {
        writeln!(listing, "{} -> {}", from[0], to[0]).expect("write");
    }
    std::println!("top-level module graph:\n{listing}");
    let loops = loops(&top);
    let report = explain(&top, &loops);
    assert!(
        loops.is_empty(),
        "import loops between top-level modules:\n{report}"
    );
}

#[test]
fn sibling_modules_have_no_import_loops() {
    let edges = edges(&source());
    let nested: Edges = edges
        .into_iter()
        .filter(|((from, _), _)| from.len() > 1)
        .collect();
    let mut listing = String::new();
    for (from, to) in nested.keys() {
        writeln!(
            listing,
            "{} -> {}",
            from.join("::"),
            to.last().expect("named")
        )
        .expect("write");
    }
    std::println!("sibling module graph:\n{listing}");
    let loops = loops(&nested);
    let report = explain(&nested, &loops);
    assert!(
        loops.is_empty(),
        "import loops between sibling modules:\n{report}"
    );
}

#[test]
fn a_loop_between_siblings_is_found() {
    let files = [
        (&["a"][..], "use crate::b::B; pub use self::x::X;"),
        (&["a", "x"][..], "pub struct X; use super::y::Y;"),
        (&["a", "y"][..], "use super::X; // through the re-export\n"),
        (&["b"][..], "fn f() { crate::c::g() }"),
        (
            &["c"][..],
            "#[cfg(test)]\nmod tests { use crate::b::B; }\nconst S: &str = \"crate::b\";",
        ),
    ];
    let files: Vec<File> = files
        .iter()
        .map(|(module, text)| File {
            path: PathBuf::from(module.join("/")),
            module: module.iter().map(|s| String::from(*s)).collect(),
            tokens: tokens(text),
        })
        .collect();
    let edges = edges(&files);
    let named: Vec<(String, String)> = edges
        .keys()
        .map(|(from, to)| (from.join("::"), to.join("::")))
        .collect();
    let pair = |from: &str, to: &str| (String::from(from), String::from(to));
    assert_eq!(
        named,
        [
            pair("a", "b"),
            pair("a::x", "a::y"),
            pair("a::y", "a::x"),
            pair("b", "c")
        ]
    );
    let module = |path: &[&str]| path.iter().map(|s| String::from(*s)).collect::<Module>();
    let found = loops(&edges);
    assert_eq!(found, [[module(&["a", "x"]), module(&["a", "y"])]]);
    assert!(explain(&edges, &found).starts_with("a::x -> a::y -> a::x\n"));
}

/// One source file, tokenized.
struct File {
    path: PathBuf,
    module: Module,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

fn source() -> Vec<File> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read src") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if name != "tests" {
                    folders.push(path);
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            if stem == "tests" {
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src");
            let mut module: Module = relative
                .parent()
                .into_iter()
                .flat_map(Path::components)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if stem != "lib" {
                module.push(String::from(stem));
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            files.push(File {
                path: relative.to_path_buf(),
                module,
                tokens: tokens(&text),
            });
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    files
}

/// Identifiers, `::` and punctuation; comments, literals and `#[cfg(test)] mod` items dropped.
fn tokens(text: &str) -> Vec<Token> {
    without_test_modules(lex(text))
}

fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if c == 'r' && matches!(next, Some('"' | '#')) {
            i = skip_raw_string(&chars, i + 1);
        } else if c == 'b' && next == Some('"') {
            i = skip_string(&chars, i + 2);
        } else if c == 'b' && next == Some('r') && matches!(chars.get(i + 2), Some('"' | '#')) {
            i = skip_raw_string(&chars, i + 2);
        } else if c == 'b' && next == Some('\'') {
            i = skip_char(&chars, i + 1).unwrap_or(i + 2);
        } else if c == '\'' {
            // A character literal, or else a lifetime (whose name is then read as an identifier).
            i = skip_char(&chars, i).unwrap_or(i + 1);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && next == Some(':') {
            out.push(Token::Path);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// The end of a character literal opening at `i`, or `None` for a lifetime.
fn skip_char(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        '\\' => {
            let close = (i + 2..chars.len()).find(|&k| chars[k] == '\'')?;
            Some(close + 1)
        }
        _ if chars.get(i + 2) == Some(&'\'') => Some(i + 3),
        _ => None,
    }
}

/// Drops `#[cfg(test)] mod name { … }` and `#[cfg(test)] mod name;`.
fn without_test_modules(tokens: Vec<Token>) -> Vec<Token> {
    let cfg_test = lex("#[cfg(test)]");
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let is_test = tokens[i..].starts_with(&cfg_test)
            && tokens.get(i + cfg_test.len()) == Some(&Token::Ident(String::from("mod")));
        if !is_test {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += cfg_test.len() + 2;
        if tokens.get(i) == Some(&Token::Punct('{')) {
            let mut depth = 0;
            while i < tokens.len() {
                match tokens[i] {
                    Token::Punct('{') => depth += 1,
                    Token::Punct('}') => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        } else {
            i += 1; // `;`
        }
    }
    out
}

/// A path as written in a file, and whether it came from a `pub use` (and under which name).
struct Reference {
    segments: Vec<String>,
    reexport: Option<String>,
}

/// Every path of `tokens` that starts at `crate`, `super` or `self`, or in a `use` at a name
/// the module might own (a child module or a sibling the resolver can place).
fn references(tokens: &[Token]) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Ident(String::from("use")) {
            let public = i > 0 && is_visibility_end(tokens, i);
            let mut trees = Vec::new();
            i = use_tree(tokens, i + 1, &mut Vec::new(), &mut trees);
            out.extend(trees.into_iter().map(|(segments, name)| Reference {
                segments,
                reexport: public.then_some(name).flatten(),
            }));
            continue;
        }
        let starts_path = matches!(&tokens[i], Token::Ident(w) if w == "crate" || w == "super" || w == "self")
            && tokens.get(i + 1) == Some(&Token::Path)
            && !(i > 0 && tokens[i - 1] == Token::Path);
        if starts_path {
            let mut segments = Vec::new();
            while let Some(Token::Ident(word)) = tokens.get(i) {
                segments.push(word.clone());
                i += 1;
                if tokens.get(i) != Some(&Token::Path) {
                    break;
                }
                i += 1;
            }
            out.push(Reference {
                segments,
                reexport: None,
            });
            continue;
        }
        i += 1;
    }
    out
}

/// Whether the `use` at `i` is preceded by `pub`, `pub(crate)`, `pub(super)` or `pub(in …)`.
fn is_visibility_end(tokens: &[Token], i: usize) -> bool {
    let pub_word = Token::Ident(String::from("pub"));
    if tokens[i - 1] == pub_word {
        return true;
    }
    if tokens[i - 1] != Token::Punct(')') {
        return false;
    }
    let open = tokens[..i - 1]
        .iter()
        .rposition(|t| *t == Token::Punct('('));
    open.is_some_and(|open| open > 0 && tokens[open - 1] == pub_word)
}

/// Reads one use tree from `i`; pushes each leaf path and the name it is bound to.
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let depth = prefix.len();
    if tokens.get(i) == Some(&Token::Path) {
        i += 1; // `use ::name` (an extern crate): left as it is, and not resolved.
    }
    loop {
        match tokens.get(i) {
            Some(Token::Ident(word)) => {
                i += 1;
                if word == "self" && depth > 0 && tokens.get(i) != Some(&Token::Path) {
                    let name = prefix.last().cloned();
                    i = alias(tokens, i, name, prefix.clone(), out);
                    break;
                }
                prefix.push(word.clone());
                if tokens.get(i) == Some(&Token::Path) {
                    i += 1;
                    continue;
                }
                i = alias(tokens, i, Some(word.clone()), prefix.clone(), out);
                break;
            }
            Some(Token::Punct('*')) => {
                out.push((prefix.clone(), None));
                i += 1;
                break;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                while !matches!(tokens.get(i), None | Some(Token::Punct('}'))) {
                    i = use_tree(tokens, i, prefix, out);
                    if tokens.get(i) == Some(&Token::Punct(',')) {
                        i += 1;
                    }
                }
                i += 1;
                break;
            }
            _ => break,
        }
    }
    prefix.truncate(depth);
    if tokens.get(i) == Some(&Token::Punct(';')) {
        i += 1;
    }
    i
}

/// A leaf, with `as name` if it has one.
fn alias(
    tokens: &[Token],
    mut i: usize,
    name: Option<String>,
    path: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let mut name = name;
    if tokens.get(i) == Some(&Token::Ident(String::from("as"))) {
        if let Some(Token::Ident(alias)) = tokens.get(i + 1) {
            name = Some(alias.clone());
        }
        i += 2;
    }
    out.push((path, name));
    i
}

/// `segments` from inside `module`, absolute; `None` for a path outside the crate.
fn absolute(module: &Module, segments: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut path = module.clone();
    let mut rest = segments;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            path.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                path.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // Edition 2018 `use name::…`: a child module of this one, or an extern crate.
            let mut child = module.clone();
            child.push(String::from(first));
            if !modules.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    path.extend(rest.iter().cloned());
    Some(path)
}

/// Every path `path` stands for: itself, then what each `pub use` on the way re-exports.
fn through_reexports(
    path: Module,
    modules: &BTreeSet<Module>,
    reexports: &BTreeMap<(Module, String), Module>,
) -> Vec<Module> {
    let mut seen = vec![path];
    while seen.len() < 16 {
        let current = seen.last().expect("one");
        let owner = (0..=current.len())
            .rev()
            .map(|n| &current[..n])
            .find(|prefix| prefix.is_empty() || modules.contains(*prefix))
            .expect("the root");
        let Some(name) = current.get(owner.len()) else {
            break;
        };
        let Some(target) = reexports.get(&(owner.to_vec(), name.clone())) else {
            break;
        };
        let mut next = target.clone();
        next.extend(current[owner.len() + 1..].iter().cloned());
        if seen.contains(&next) {
            break;
        }
        seen.push(next);
    }
    seen
}

/// Edges between siblings: a path from `a::b::x` to `a::c::…` is the edge `a::b → a::c`.
fn edges(files: &[File]) -> Edges {
    let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let references: Vec<(&File, Vec<Reference>)> =
        files.iter().map(|f| (f, references(&f.tokens))).collect();
    let mut reexports = BTreeMap::new();
    for (file, refs) in &references {
        for reference in refs {
            let Some(name) = &reference.reexport else {
                continue;
            };
            if let Some(target) = absolute(&file.module, &reference.segments, &modules) {
                reexports.insert((file.module.clone(), name.clone()), target);
            }
        }
    }
    let mut edges = Edges::new();
    for (file, refs) in &references {
        for reference in refs {
            let Some(target) = absolute(&file.module, &reference.segments, &modules) else {
                continue;
            };
            for target in through_reexports(target, &modules, &reexports) {
                let from = &file.module;
                let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
                if common == from.len() || common == target.len() {
                    continue; // itself, an ancestor or a descendant
                }
                let to: Module = target[..=common].to_vec();
                if !modules.contains(&to) {
                    continue; // an item of the common ancestor
                }
                let written = reference.segments.join("::");
                edges
                    .entry((from[..=common].to_vec(), to))
                    .or_insert_with(|| (file.path.clone(), written));
            }
        }
    }
    edges
}

/// One loop through each group of modules that reach each other, shortest first found.
fn loops(edges: &Edges) -> Vec<Vec<Module>> {
    let mut next: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut found: Vec<Vec<Module>> = Vec::new();
    for start in next.keys() {
        let Some(cycle) = path_back(start, &next) else {
            continue;
        };
        let members: BTreeSet<&Module> = cycle.iter().collect();
        if !found
            .iter()
            .any(|f| f.iter().collect::<BTreeSet<_>>() == members)
        {
            found.push(cycle);
        }
    }
    found
}

/// The shortest path from `start` back to itself (breadth first), if there is one.
fn path_back(start: &Module, next: &BTreeMap<&Module, Vec<&Module>>) -> Option<Vec<Module>> {
    let mut parent: BTreeMap<&Module, &Module> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &to in next.get(node).into_iter().flatten() {
            if to == start {
                let mut cycle = vec![node.clone()];
                let mut at = node;
                while let Some(&p) = parent.get(at) {
                    cycle.push(p.clone());
                    at = p;
                }
                cycle.reverse();
                return Some(cycle);
            }
            if !parent.contains_key(to) {
                parent.insert(to, node);
                queue.push_back(to);
            }
        }
    }
    None
}

/// Each loop as `a -> b -> a`, with the file and path behind each step.
fn explain(edges: &Edges, loops: &[Vec<Module>]) -> String {
    let mut report = String::new();
    for cycle in loops {
        let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
        writeln!(report, "{} -> {}", names.join(" -> "), names[0]).expect("write");
        for (k, from) in cycle.iter().enumerate() {
            let to = &cycle[(k + 1) % cycle.len()];
            let (file, written) = &edges[&(from.clone(), to.clone())];
            writeln!(report, "    {}: {written}", file.display()).expect("write");
        }
    }
    report
}
