//! Tests for the parent module.
use super::*;
use std::path::Path;
use std::process::Command;

fn diff(path: &str, old: &str, new: &str) -> FileDiff {
    match unified_diff(path, old, new, 0o100644) {
        Some(d) => d,
        None => panic!("expected a diff for {path}"),
    }
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

// ---- exact text ----

#[test]
fn hunks_name_the_old_lines_they_change() {
    let old = numbered(30);
    // Line 3 replaced, lines 20-21 removed, a line inserted after 28 and one at the top.
    let new = old
        .replace("line 3\n", "line three\n")
        .replace("line 20\nline 21\n", "")
        .replace("line 28\n", "line 28\nextra\n");
    let d = diff("a.txt", &old, &new);
    let lines: Vec<(usize, usize)> = d.hunks.iter().map(|h| (h.old_first, h.old_last)).collect();
    assert_eq!(lines, vec![(3, 3), (20, 21), (28, 28)]);
    assert!(
        d.hunks[0].text.starts_with("@@ -1,6 +1,6 @@\n"),
        "{}",
        d.hunks[0].text
    );
    assert_eq!(
        d.hunks.iter().map(|h| h.text.as_str()).collect::<String>(),
        d.text[d.text.find("@@").unwrap()..]
    );
    let top = diff("a.txt", "a\n", "new\na\n");
    assert_eq!((top.hunks[0].old_first, top.hunks[0].old_last), (0, 0));
}

#[test]
fn equal_texts_give_none() {
    assert_eq!(unified_diff("a.txt", "x\n", "x\n", 0o100644), None);
    assert_eq!(unified_diff("a.txt", "", "", 0o100644), None);
}

#[test]
fn single_change_exact_text() {
    let d = diff("src/a.txt", "a\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\n");
    let expected = "diff --git a/src/a.txt b/src/a.txt\n\
                    --- a/src/a.txt\n\
                    +++ b/src/a.txt\n\
                    @@ -1,5 +1,5 @@\n \
                    a\n \
                    b\n\
                    -c\n\
                    +C\n \
                    d\n \
                    e\n";
    assert_eq!(d.text, expected);
    assert_eq!((d.added, d.removed), (1, 1));
    assert_eq!(d.path, "src/a.txt");
}

#[test]
fn hunk_header_trims_context_to_three_lines() {
    let old = numbered(10);
    let new = old.replace("line 6\n", "six\n");
    let d = diff("f", &old, &new);
    assert!(d.text.contains("@@ -3,7 +3,7 @@\n line 3\n"), "{}", d.text);
    assert!(d.text.ends_with(" line 9\n"), "{}", d.text);
}

#[test]
fn count_of_one_is_omitted() {
    let d = diff("f", "a\n", "b\n");
    assert!(d.text.contains("@@ -1 +1 @@\n-a\n+b\n"), "{}", d.text);
}

#[test]
fn empty_old_range_names_line_before() {
    let d = diff("f", "", "x\ny\n");
    assert!(d.text.contains("@@ -0,0 +1,2 @@\n+x\n+y\n"), "{}", d.text);
    assert_eq!((d.added, d.removed), (2, 0));

    // Pure insertion after line 1 of a one-line file.
    let d = diff("f", "a\n", "a\nb\n");
    assert!(d.text.contains("@@ -1 +1,2 @@\n a\n+b\n"), "{}", d.text);

    let d = diff("f", "x\ny\n", "");
    assert!(d.text.contains("@@ -1,2 +0,0 @@\n-x\n-y\n"), "{}", d.text);
    assert_eq!((d.added, d.removed), (0, 2));
}

#[test]
fn pure_insertion_in_middle_counts_context_on_both_sides() {
    // Insert after line 5 of 10: three context lines either side, so the
    // old side spans lines 3..=8 and the new side one more.
    let old = numbered(10);
    let new = old.replace("line 5\n", "line 5\nnew\n");
    let d = diff("f", &old, &new);
    assert!(d.text.contains("@@ -3,6 +3,7 @@\n"), "{}", d.text);
}

#[test]
fn no_newline_marker_old_only() {
    let d = diff("f", "a\nb", "a\nb\n");
    assert!(
        d.text
            .ends_with(" a\n-b\n\\ No newline at end of file\n+b\n"),
        "{}",
        d.text
    );
}

#[test]
fn no_newline_marker_new_only() {
    let d = diff("f", "a\nb\n", "a\nb");
    assert!(
        d.text
            .ends_with(" a\n-b\n+b\n\\ No newline at end of file\n"),
        "{}",
        d.text
    );
}

#[test]
fn no_newline_marker_on_context_line() {
    let d = diff("f", "a\nb\nc", "A\nb\nc");
    assert!(
        d.text
            .ends_with("-a\n+A\n b\n c\n\\ No newline at end of file\n"),
        "{}",
        d.text
    );
    assert_eq!(d.text.matches("No newline").count(), 1);
}

#[test]
fn lone_cr_does_not_split_lines() {
    let d = diff("f", "a\rb\nc\n", "a\rb\nC\n");
    assert!(
        d.text.contains("@@ -1,2 +1,2 @@\n a\rb\n-c\n+C\n"),
        "{:?}",
        d.text
    );
}

#[test]
fn crlf_lines_keep_their_endings() {
    let d = diff("f", "a\r\nb\r\n", "a\r\nB\r\n");
    assert!(d.text.ends_with(" a\r\n-b\r\n+B\r\n"), "{:?}", d.text);
}

#[test]
fn far_apart_changes_make_two_hunks() {
    let old = numbered(100);
    let new = old
        .replace("line 5\n", "five\n")
        .replace("line 90\n", "ninety\n");
    let d = diff("f", &old, &new);
    let headers: Vec<&str> = d.text.lines().filter(|l| l.starts_with("@@")).collect();
    assert_eq!(headers, ["@@ -2,7 +2,7 @@", "@@ -87,7 +87,7 @@"]);
    assert_eq!((d.added, d.removed), (2, 2));
}

#[test]
fn quoting_follows_git() {
    assert_eq!(quote_path("a/", "x y.txt"), "a/x y.txt");
    assert_eq!(quote_path("a/", "naïve.txt"), "\"a/na\\303\\257ve.txt\"");
    assert_eq!(quote_path("b/", "t\tb\\q\"n\n"), "\"b/t\\tb\\\\q\\\"n\\n\"");
    assert_eq!(quote_path("a/", "c\x01\x7f"), "\"a/c\\001\\177\"");
}

#[test]
fn quoted_path_in_header() {
    let d = diff("dir/naïve.txt", "a\n", "b\n");
    assert!(d.text.starts_with(
        "diff --git \"a/dir/na\\303\\257ve.txt\" \"b/dir/na\\303\\257ve.txt\"\n\
         --- \"a/dir/na\\303\\257ve.txt\"\n\
         +++ \"b/dir/na\\303\\257ve.txt\"\n"
    ));
    assert_eq!(d.path, "dir/naïve.txt");
}

#[test]
fn join_patch_concatenates_in_order() {
    let a = diff("a", "1\n", "2\n");
    let b = diff("b", "3\n", "4\n");
    assert_eq!(
        join_patch(&[a.clone(), b.clone()]),
        format!("{}{}", a.text, b.text)
    );
    assert_eq!(
        join_patch(&[b.clone(), a.clone()]),
        format!("{}{}", b.text, a.text)
    );
    assert_eq!(join_patch(&[]), "");
}

// ---- round trips through git ----

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("git")
        .args(["-c", "core.autocrlf=false", "-c", "core.safecrlf=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", dir.join(".no-global-config"))
        .env("HOME", dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("running git {args:?}: {e}"),
    }
}

fn git_ok(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            panic!("mkdir {}: {e}", parent.display());
        }
    }
    if let Err(e) = std::fs::write(path, bytes) {
        panic!("write {}: {e}", path.display());
    }
}

fn read(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}

fn temp_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

/// Commits each (path, old) in a fresh repo, applies `patch`, and checks
/// every file now holds its `new` bytes.
fn apply_files(files: &[(&str, &str, &str)], patch: &str) {
    let tmp = temp_dir();
    let repo = tmp.path().join("repo");
    write(&repo.join(".keep"), b"");
    git_ok(&repo, &["init", "-q"]);
    for (path, old, _) in files {
        write(&repo.join(path), old.as_bytes());
    }
    git_ok(&repo, &["add", "-A"]);
    git_ok(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "base",
        ],
    );
    let patch_file = tmp.path().join("change.patch");
    write(&patch_file, patch.as_bytes());
    let patch_arg = patch_file.to_string_lossy().into_owned();
    git_ok(&repo, &["apply", "--check", &patch_arg]);
    git_ok(&repo, &["apply", &patch_arg]);
    for (path, _, new) in files {
        let got = read(&repo.join(path));
        assert_eq!(
            String::from_utf8_lossy(&got),
            *new,
            "{path} differs after git apply\npatch:\n{patch}"
        );
        assert_eq!(got, new.as_bytes());
    }
}

fn round_trip(path: &str, old: &str, new: &str) -> FileDiff {
    let d = diff(path, old, new);
    assert!(d.text.ends_with('\n'));
    apply_files(&[(path, old, new)], &d.text);
    d
}

#[test]
fn rt_edit_middle() {
    let d = round_trip("f.txt", "a\nb\nc\nd\ne\n", "a\nb\nX\nd\ne\n");
    assert_eq!((d.added, d.removed), (1, 1));
}

#[test]
fn rt_edit_first_line() {
    round_trip(
        "f.txt",
        &numbered(10),
        &numbered(10).replace("line 1\n", "first\n"),
    );
}

#[test]
fn rt_edit_last_line() {
    round_trip(
        "f.txt",
        &numbered(10),
        &numbered(10).replace("line 10\n", "last\n"),
    );
}

#[test]
fn rt_append_lines() {
    let d = round_trip(
        "f.txt",
        &numbered(6),
        &format!("{}more\nstill more\n", numbered(6)),
    );
    assert_eq!((d.added, d.removed), (2, 0));
}

#[test]
fn rt_delete_lines() {
    let new = numbered(12).replace("line 4\n", "").replace("line 5\n", "");
    let d = round_trip("f.txt", &numbered(12), &new);
    assert_eq!((d.added, d.removed), (0, 2));
}

#[test]
fn rt_delete_all_but_one_line() {
    let d = round_trip("f.txt", &numbered(8), "line 4\n");
    assert_eq!((d.added, d.removed), (0, 7));
}

#[test]
fn rt_to_and_from_empty() {
    round_trip("f.txt", "", "now\nsomething\n");
    round_trip("f.txt", "was\nsomething\n", "");
    round_trip("f.txt", "", "x");
    round_trip("f.txt", "x", "");
}

#[test]
fn rt_crlf_file() {
    round_trip("f.txt", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\nd\r\n");
}

#[test]
fn rt_mixed_crlf_lf() {
    round_trip("f.txt", "a\r\nb\nc\r\nd\n", "a\r\nb\r\nc\r\nd\nE\n");
    // Only the line ending changes.
    round_trip("f.txt", "a\nb\nc\n", "a\nb\r\nc\n");
}

#[test]
fn rt_lone_cr_in_changed_and_context_lines() {
    let old = "one\rstill one\ntwo\nthree\rx\nfour\n";
    let new = "one\rstill one\nTWO\nthree\ry\nfour\n";
    let d = round_trip("f.txt", old, new);
    assert_eq!((d.added, d.removed), (2, 2));
    // CR at the very end of a file without final newline.
    round_trip("f.txt", "a\nb\r", "a\nc\r");
}

#[test]
fn rt_no_final_newline_old_only() {
    round_trip("f.txt", "a\nb\nc", "a\nb\nc\n");
    round_trip("f.txt", "a\nb\nc", "a\nB\nc\nd\n");
}

#[test]
fn rt_no_final_newline_new_only() {
    round_trip("f.txt", "a\nb\nc\n", "a\nb\nc");
    round_trip("f.txt", "a\nb\nc\n", "a\nb");
}

#[test]
fn rt_no_final_newline_both() {
    round_trip("f.txt", "a\nb\nc", "a\nb\nC");
    // Last line is context in both.
    round_trip("f.txt", "a\nb\nc\nd", "A\nb\nc\nd");
    round_trip(
        "f.txt",
        &format!("{}tail", numbered(10)),
        &format!("{}tail", numbered(9)),
    );
}

#[test]
fn rt_multiple_hunks_far_apart() {
    let old = numbered(100);
    let new = old
        .replace("line 5\n", "five\n")
        .replace("line 90\n", "ninety\nand more\n");
    let d = round_trip("f.txt", &old, &new);
    assert_eq!(d.text.matches("\n@@ ").count(), 2);
    assert_eq!((d.added, d.removed), (3, 2));
}

#[test]
fn rt_path_with_space() {
    let d = round_trip("my file.txt", "a\nb\n", "a\nc\n");
    assert!(d
        .text
        .starts_with("diff --git a/my file.txt b/my file.txt\n"));
}

#[test]
fn rt_non_ascii_path() {
    let d = round_trip("naïve.txt", "a\nb\n", "a\nc\n");
    assert!(d.text.starts_with("diff --git \"a/na\\303\\257ve.txt\""));
}

#[test]
fn rt_path_needing_escapes() {
    round_trip("q\"uote\\back\ttab.txt", "a\n", "b\n");
}

#[test]
fn rt_subdirectory_path() {
    round_trip(
        "src/deep/er/mod.rs",
        "fn a() {}\n",
        "fn a() {}\nfn b() {}\n",
    );
}

#[test]
fn rt_join_patch_two_files_one_apply() {
    let files = [
        ("a.txt", "1\n2\n3\n", "1\ntwo\n3\n"),
        ("sub/b c.txt", "x\r\ny", "x\r\nz\r\n"),
    ];
    let diffs: Vec<FileDiff> = files
        .iter()
        .map(|(path, old, new)| diff(path, old, new))
        .collect();
    apply_files(&files, &join_patch(&diffs));
}

#[test]
fn matches_git_diff_output() {
    // Where git has a single obvious diff, ours is byte-identical to it
    // apart from the `index` line we leave out.
    let cases = [
        (
            "f.txt",
            "a\nb\nc\nd\ne\nf\ng\nh\n",
            "a\nb\nc\nD\ne\nf\ng\nh\n",
        ),
        ("f.txt", "a\nb", "a\nc"),
        ("f.txt", "a\nb\n", "a\nb"),
        ("f.txt", "", "a\n"),
    ];
    for (path, old, new) in cases {
        let tmp = temp_dir();
        let repo = tmp.path().join("repo");
        write(&repo.join(path), old.as_bytes());
        git_ok(&repo, &["init", "-q"]);
        git_ok(&repo, &["add", "-A"]);
        git_ok(
            &repo,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "base",
            ],
        );
        write(&repo.join(path), new.as_bytes());
        let out = git_ok(&repo, &["diff", "--no-color", "--no-ext-diff"]);
        let git_text: String = String::from_utf8_lossy(&out.stdout)
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("index "))
            .collect();
        assert_eq!(
            diff(path, old, new).text,
            git_text,
            "case {old:?} -> {new:?}"
        );
    }
}

#[test]
fn rt_hunk_counts_follow_the_lines_carried() {
    // Found by the property test: the patience diff places the final insertion's old position
    // before the last context line; the header must still count what the hunk holds.
    round_trip(
        "a.txt",
        "\n\n\n\n\n\n\n\n\n\n\r\n\n",
        "\n\n\n\n\n\n\n\n\n\n\n\n",
    );
}
