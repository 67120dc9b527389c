//! The README and the manual in `docs/` hold together: every relative link in them leads to
//! a file that exists, and to a heading that exists when it names one (`file.md#anchor`,
//! GitHub's anchors); the README stays a short front door.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The README's ceiling in lines: the manual belongs in docs/.
const README_MAX_LINES: usize = 220;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let docs = root().join("docs");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("{}: {e}", docs.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    pages.extend(more);
    pages
}

/// GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to `-`.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings (a repeated one gets `-1`, `-2`, … as on
/// GitHub) and its link destinations, in order.
fn scan(text: &str) -> (Vec<String>, Vec<String>) {
    let mut anchors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut links = Vec::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let n = seen.entry(base.clone()).or_insert(0);
                anchors.push(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => links.push(dest_url.to_string()),
            _ => {}
        }
    }
    (anchors, links)
}

/// What is wrong with `link` on `page`, or `None` when it resolves.
fn check(page: &Path, link: &str) -> Option<String> {
    if link.contains("://") || link.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match link.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (link, None),
    };
    let target = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(path)
    };
    if !target.exists() {
        return Some(format!("{} does not exist", target.display()));
    }
    let anchor = anchor?;
    if target.extension().is_none_or(|x| x != "md") {
        return None;
    }
    let text = std::fs::read_to_string(&target).unwrap();
    let (anchors, _) = scan(&text);
    if anchors.iter().any(|a| a == anchor) {
        None
    } else {
        Some(format!(
            "{} has no heading #{anchor} (it has: {})",
            target.display(),
            anchors.join(", ")
        ))
    }
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in scan(&text).1 {
            checked += 1;
            if let Some(why) = check(&page, &link) {
                broken.push(format!("{}: ]({link}): {why}", page.display()));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the parser reading the pages?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_finds_missing_files_and_anchors() {
    let readme = root().join("README.md");
    assert_eq!(check(&readme, "docs/lab.md"), None);
    assert_eq!(check(&readme, "docs/lab.md#fencing"), None);
    assert_eq!(check(&readme, "https://example.invalid/x"), None);
    assert!(check(&readme, "docs/no-such-chapter.md").is_some());
    assert!(check(&readme, "docs/lab.md#no-such-heading").is_some());
}

#[test]
fn anchors_follow_github() {
    let (anchors, links) = scan(
        "# Building images: `srbuild image`\n## Options\n## Options\n\
         ```\n[not](a-link.md)\n```\nSee [x](y.md#z) and `[code](not.md)`.\n",
    );
    assert_eq!(
        anchors,
        ["building-images-srbuild-image", "options", "options-1"]
    );
    assert_eq!(links, ["y.md#z"]);
}

#[test]
fn the_readme_stays_a_front_door() {
    let readme = root().join("README.md");
    let lines = std::fs::read_to_string(&readme).unwrap().lines().count();
    assert!(
        lines < README_MAX_LINES,
        "{} has {lines} lines; keep it under {README_MAX_LINES} and move the detail to docs/",
        readme.display()
    );
}
