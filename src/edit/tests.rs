//! Tests for the parent module.
use super::*;

fn block(search: &str, replace: &str) -> Block {
    Block {
        search: search.to_string(),
        replace: replace.to_string(),
    }
}

fn blocks_of(answer: &str) -> Vec<Block> {
    match parse_answer(answer, false) {
        Ok(Answer::Blocks(blocks)) => blocks,
        other => panic!("expected blocks, got {other:?}"),
    }
}

fn apply(original: &str, blocks: &[Block]) -> Applied {
    match apply_blocks(original, blocks) {
        Ok(applied) => applied,
        Err(err) => panic!("apply failed: {err}"),
    }
}

// --- parsing -----------------------------------------------------------

#[test]
fn parses_single_block() {
    let answer = "<<<<<<< SEARCH\nold line\n=======\nnew line\n>>>>>>> REPLACE\n";
    assert_eq!(blocks_of(answer), vec![block("old line\n", "new line\n")]);
}

#[test]
fn parses_multiple_blocks_with_multiline_text() {
    let answer = "<<<<<<< SEARCH\na\nb\n=======\nc\n>>>>>>> REPLACE\n\
                  <<<<<<< SEARCH\nd\n=======\ne\nf\n>>>>>>> REPLACE";
    assert_eq!(
        blocks_of(answer),
        vec![block("a\nb\n", "c\n"), block("d\n", "e\nf\n")]
    );
}

#[test]
fn parses_blocks_inside_fences_with_prose_and_file_name() {
    let answer = "Sure! Here is the change.\n\nsrc/main.rs\n```rust\n\
                  <<<<<<< SEARCH\nfn main() {}\n=======\nfn main() { run(); }\n>>>>>>> REPLACE\n\
                  ```\n\nThis calls run.\n";
    assert_eq!(
        blocks_of(answer),
        vec![block("fn main() {}\n", "fn main() { run(); }\n")]
    );
}

#[test]
fn parses_sloppy_markers() {
    let answer = "<<<<<<<< search\nx\n========\ny\n>>>>>>>>   Replace  \n\
                  <<<<< SEARCH\np\n=====  \nq\n>>>>>>>>> REPLACE\n";
    assert_eq!(
        blocks_of(answer),
        vec![block("x\n", "y\n"), block("p\n", "q\n")]
    );
}

#[test]
fn rejects_markers_outside_the_accepted_length() {
    // Four '<' is not a marker, so this is prose and the answer is empty.
    let answer = "<<<< SEARCH\nx\n==========\ny\n>>>> REPLACE\n";
    assert_eq!(parse_answer(answer, true), Err(EditError::Empty));
}

#[test]
fn normalises_crlf_answers() {
    let answer = "<<<<<<< SEARCH\r\na\r\n=======\r\nb\r\n>>>>>>> REPLACE\r\n";
    assert_eq!(blocks_of(answer), vec![block("a\n", "b\n")]);
}

#[test]
fn empty_sections_give_empty_text() {
    let answer = "<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n";
    assert_eq!(blocks_of(answer), vec![block("", "")]);
}

#[test]
fn divider_inside_replace_is_text() {
    let answer = "<<<<<<< SEARCH\nTitle\n=======\nTitle\n=======\n>>>>>>> REPLACE\n";
    assert_eq!(
        blocks_of(answer),
        vec![block("Title\n", "Title\n=======\n")]
    );
}

#[test]
fn no_change_marker() {
    assert_eq!(
        parse_answer("The file is fine.\n\n  NO_CHANGE  \n", false),
        Ok(Answer::NoChange)
    );
    assert_eq!(parse_answer("`NO_CHANGE`", true), Ok(Answer::NoChange));
    assert_eq!(
        parse_answer("```\nNO_CHANGE\n```\n", true),
        Ok(Answer::NoChange)
    );
}

#[test]
fn no_change_mentioned_in_prose_is_not_the_marker() {
    assert_eq!(
        parse_answer("I would not say NO_CHANGE here.", true),
        Err(EditError::Empty)
    );
}

#[test]
fn blocks_win_over_no_change() {
    let answer = "NO_CHANGE\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
    assert_eq!(blocks_of(answer), vec![block("a\n", "b\n")]);
}

#[test]
fn whole_file_from_longest_fence() {
    let answer = "Run it with:\n```sh\ncargo run\n```\nNew file:\n```rust\n\
                  fn main() {\n    println!(\"hi\");\n}\n```\nDone.\n";
    assert_eq!(
        parse_answer(answer, true),
        Ok(Answer::WholeFile(
            "fn main() {\n    println!(\"hi\");\n}\n".to_string()
        ))
    );
}

#[test]
fn no_change_line_inside_a_whole_file_is_content() {
    let answer = "```\nmarkers:\nNO_CHANGE\n```\n";
    assert_eq!(
        parse_answer(answer, true),
        Ok(Answer::WholeFile("markers:\nNO_CHANGE\n".to_string()))
    );
}

#[test]
fn whole_file_disallowed() {
    let answer = "```rust\nfn main() {}\n```\n";
    assert_eq!(
        parse_answer(answer, false),
        Err(EditError::WholeFileNotAllowed)
    );
}

#[test]
fn unclosed_fence_is_malformed_not_a_truncated_file() {
    let answer = "```rust\nfn main() {\n";
    assert!(matches!(
        parse_answer(answer, true),
        Err(EditError::Malformed { .. })
    ));
}

#[test]
fn malformed_blocks() {
    let cases = [
        "<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n",
        "<<<<<<< SEARCH\na\n=======\nb\n",
        "<<<<<<< SEARCH\na\n",
        "<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH\n",
        "a\n=======\nb\n>>>>>>> REPLACE\n",
    ];
    for answer in cases {
        assert!(
            matches!(parse_answer(answer, true), Err(EditError::Malformed { .. })),
            "not malformed: {answer:?}"
        );
    }
}

#[test]
fn malformed_reason_names_the_block() {
    let answer = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n\
                  <<<<<<< SEARCH\nc\n>>>>>>> REPLACE\n";
    let Err(EditError::Malformed { reason }) = parse_answer(answer, false) else {
        panic!("expected malformed");
    };
    assert!(reason.contains("block 2"), "{reason}");
    assert!(reason.contains("======="), "{reason}");
}

#[test]
fn empty_answer() {
    assert_eq!(parse_answer("", true), Err(EditError::Empty));
    assert_eq!(
        parse_answer("I think the file looks good.", true),
        Err(EditError::Empty)
    );
    assert_eq!(parse_answer("```\n\n```\n", true), Err(EditError::Empty));
}

// --- applying ----------------------------------------------------------

#[test]
fn applies_exact() {
    let applied = apply("a\nb\nc\n", &[block("b\n", "B\n")]);
    assert_eq!(applied.text, "a\nB\nc\n");
    assert_eq!(applied.matches, vec![MatchKind::Exact]);
}

#[test]
fn exact_match_must_start_at_a_line_boundary() {
    // "b\n" occurs inside "ab\n" too; only the whole line counts.
    let applied = apply("ab\nb\n", &[block("b\n", "X\n")]);
    assert_eq!(applied.text, "ab\nX\n");
}

#[test]
fn ambiguous_exact_does_not_fall_through() {
    // Exact finds 2 places; the indentation tier would find 3, so the
    // count shows which tier answered.
    let result = apply_blocks("x\ny\nx\n  x\n", &[block("x\n", "z\n")]);
    assert_eq!(
        result,
        Err(EditError::Ambiguous {
            block: 1,
            first_line: "x".to_string(),
            count: 2,
        })
    );
}

#[test]
fn ambiguous_in_a_lenient_tier() {
    let result = apply_blocks("  x\n\ty\n    x\n", &[block("x\n", "z\n")]);
    assert!(matches!(result, Err(EditError::Ambiguous { count: 2, .. })));
}

#[test]
fn trailing_whitespace_tier() {
    let original = "fn a() {  \n    b();\t\n}\nrest\n";
    let applied = apply(original, &[block("fn a() {\n    b();\n}\n", "fn a() {}\n")]);
    assert_eq!(applied.text, "fn a() {}\nrest\n");
    assert_eq!(applied.matches, vec![MatchKind::TrailingWhitespace]);
}

#[test]
fn indentation_tier_reindents_deeper() {
    let original = "impl A {\n        fn f() {\n            g();\n        }\n}\n";
    let search = "fn f() {\n    g();\n}\n";
    let replace = "fn f() {\n    g();\n\n    h();\n}\n";
    let applied = apply(original, &[block(search, replace)]);
    assert_eq!(
        applied.text,
        "impl A {\n        fn f() {\n            g();\n\n            h();\n        }\n}\n"
    );
    assert_eq!(applied.matches, vec![MatchKind::Indentation]);
}

#[test]
fn indentation_tier_reindents_shallower() {
    let original = "fn f() {\n    g();\n}\n";
    let search = "        fn f() {\n            g();\n        }\n";
    let replace = "        fn f() {\n            h();\n        }\n    tail();\n";
    let applied = apply(original, &[block(search, replace)]);
    // The last line sat less deep than the base; it loses what it has.
    assert_eq!(applied.text, "fn f() {\n    h();\n}\ntail();\n");
    assert_eq!(applied.matches, vec![MatchKind::Indentation]);
}

#[test]
fn indentation_tier_swaps_spaces_for_tabs() {
    let original = "func f() {\n\tx := 1\n\treturn x\n}\n";
    let search = "    x := 1\n    return x\n";
    let replace = "    x := 2\n    if x > 1 {\n        x++\n    }\n    return x\n";
    let applied = apply(original, &[block(search, replace)]);
    assert_eq!(
        applied.text,
        "func f() {\n\tx := 2\n\tif x > 1 {\n\t    x++\n\t}\n\treturn x\n}\n"
    );
}

#[test]
fn no_match_names_block_number_and_first_line() {
    let original = "a\nb\n";
    let long = "x".repeat(100);
    let blocks = [
        block("a\n", "A\n"),
        block(&format!("\n  {long}\nmore\n"), "y\n"),
    ];
    let err = match apply_blocks(original, &blocks) {
        Err(err) => err,
        Ok(applied) => panic!("unexpected success: {applied:?}"),
    };
    let quoted = format!("{}...", "x".repeat(QUOTE_LIMIT));
    assert_eq!(
        err,
        EditError::NoMatch {
            block: 2,
            first_line: quoted.clone(),
            search: format!("\n  {long}\nmore\n"),
        }
    );
    let message = err.to_string();
    assert!(message.starts_with("block 2:"), "{message}");
    assert!(message.contains(&quoted), "{message}");
}

#[test]
fn crlf_file_keeps_crlf_everywhere() {
    let original = "one\r\ntwo\r\nthree\r\n";
    let applied = apply(original, &[block("two\n", "2\nTWO\n")]);
    assert_eq!(applied.text, "one\r\n2\r\nTWO\r\nthree\r\n");
    assert_eq!(applied.matches, vec![MatchKind::Exact]);
}

#[test]
fn crlf_file_lenient_tier_inserts_crlf() {
    let original = "one\r\n    two  \r\nthree\r\n";
    let applied = apply(original, &[block("two\n", "2\n")]);
    assert_eq!(applied.text, "one\r\n    2\r\nthree\r\n");
    assert_eq!(applied.matches, vec![MatchKind::Indentation]);
}

#[test]
fn untouched_lines_keep_their_line_endings() {
    // Mostly CRLF, with one LF line that is not edited.
    let original = "a\r\nb\nc\r\nd\r\n";
    let applied = apply(original, &[block("c\n", "C\n")]);
    assert_eq!(applied.text, "a\r\nb\nC\r\nd\r\n");
}

#[test]
fn file_without_final_newline_stays_without() {
    let applied = apply("a\nb", &[block("b\n", "B\n")]);
    assert_eq!(applied.text, "a\nB");
    let applied = apply("a\nb", &[block("a\n", "A\n")]);
    assert_eq!(applied.text, "A\nb");
    let applied = apply("a\r\nb", &[block("b\n", "B\nC\n")]);
    assert_eq!(applied.text, "a\r\nB\r\nC");
}

#[test]
fn file_with_final_newline_keeps_it() {
    let applied = apply("a\nb\n", &[block("b\n", "B")]);
    assert_eq!(applied.text, "a\nB\n");
}

#[test]
fn delete_via_empty_replace() {
    let applied = apply("a\nb\nc\n", &[block("b\n", "")]);
    assert_eq!(applied.text, "a\nc\n");
    let applied = apply("a\nb", &[block("b\n", "")]);
    assert_eq!(applied.text, "a");
}

#[test]
fn insert_into_empty_file() {
    let applied = apply("", &[block("", "fn main() {}\n")]);
    assert_eq!(applied.text, "fn main() {}\n");
    assert_eq!(applied.matches, vec![MatchKind::Exact]);
}

#[test]
fn empty_search_on_non_empty_file_is_malformed() {
    let result = apply_blocks("a\n", &[block("", "b\n")]);
    assert!(matches!(result, Err(EditError::Malformed { .. })));
}

#[test]
fn sequential_blocks_see_earlier_results() {
    let blocks = [block("a\n", "b\n"), block("b\n", "c\n")];
    let applied = apply("a\nx\n", &blocks);
    assert_eq!(applied.text, "c\nx\n");
    assert_eq!(applied.matches, vec![MatchKind::Exact, MatchKind::Exact]);
}

#[test]
fn search_equal_to_replace_is_a_no_op() {
    let applied = apply("a\nb\n", &[block("a\n", "a\n")]);
    assert_eq!(applied.text, "a\nb\n");
}

// --- elided tier -------------------------------------------------------

const ELIDED_FILE: &str = "fn run() {\n    let config = load();\n    check(&config);\n    let data = fetch(&config);\n    process(data);\n    finish();\n}\n";

#[test]
fn elided_search_applies_each_piece() {
    let search =
        "fn run() {\n    let config = load();\n    ...\n    process(data);\n    finish();\n}\n";
    let replace = "fn run() {\n    let config = load_or_default();\n    ...\n    process(data);\n    report();\n    finish();\n}\n";
    let applied = apply(ELIDED_FILE, &[block(search, replace)]);
    assert_eq!(
        applied.text,
        "fn run() {\n    let config = load_or_default();\n    check(&config);\n    let data = fetch(&config);\n    process(data);\n    report();\n    finish();\n}\n"
    );
    assert_eq!(applied.matches, vec![MatchKind::Elided]);
}

#[test]
fn elided_pieces_forgive_indentation_and_keep_crlf() {
    let original = ELIDED_FILE.replace('\n', "\r\n");
    // Comment-style elision lines, and pieces written without indentation.
    let search = "let config = load();\n// ...\nfinish();\n";
    let replace = "let config = load()?;\n// ...\nfinish()?;\n";
    let applied = apply(&original, &[block(search, replace)]);
    assert_eq!(
        applied.text,
        ELIDED_FILE
            .replace("load();", "load()?;")
            .replace("finish();", "finish()?;")
            .replace('\n', "\r\n")
    );
    assert_eq!(applied.matches, vec![MatchKind::Elided]);
}

#[test]
fn elision_lines() {
    for line in [
        "...",
        "  ...  ",
        "# ...",
        "//...",
        "    // ...",
        "-- ...",
        "/* ... */",
        "<!-- ... -->",
    ] {
        assert!(is_elision(line), "{line:?}");
    }
    for line in ["", "..", "x = ...", "# ... rest", "// ....", "print('...')"] {
        assert!(!is_elision(line), "{line:?}");
    }
}

#[test]
fn elided_search_with_mismatched_replace_does_not_apply() {
    let search = "fn run() {\n    let config = load();\n    ...\n    finish();\n}\n";
    // The replace has no elision line: applying it would drop the lines left out.
    let no_elision = "fn run() {\n    let config = load();\n    finish();\n}\n";
    // A different elision line, and two where the search has one.
    let other_marker = "fn run() {\n    let config = load();\n    // ...\n    finish();\n}\n";
    let two = "fn run() {\n    ...\n    let config = load();\n    ...\n    finish();\n}\n";
    for replace in [no_elision, other_marker, two] {
        let result = apply_blocks(ELIDED_FILE, &[block(search, replace)]);
        assert!(
            matches!(result, Err(EditError::NoMatch { block: 1, .. })),
            "{replace:?}: {result:?}"
        );
    }
}

#[test]
fn elided_pieces_must_be_unique_and_in_order() {
    // Out of order: `finish` comes after `check` in the file.
    let search = "    finish();\n...\n    check(&config);\n";
    let replace = "    done();\n...\n    check(&config);\n";
    assert!(matches!(
        apply_blocks(ELIDED_FILE, &[block(search, replace)]),
        Err(EditError::NoMatch { .. })
    ));
    // A piece that occurs twice makes the block ambiguous.
    let original = "a\nx\nb\nx\nc\n";
    let result = apply_blocks(original, &[block("a\n...\nx\n", "A\n...\nx\n")]);
    assert!(
        matches!(result, Err(EditError::Ambiguous { count: 2, .. })),
        "{result:?}"
    );
    // A blank search piece that should receive text has no place to go.
    let result = apply_blocks(original, &[block("a\n...\n", "a\n...\nnew\n")]);
    assert!(
        matches!(result, Err(EditError::NoMatch { .. })),
        "{result:?}"
    );
}

#[test]
fn literal_ellipsis_lines_still_match_exactly() {
    // A Python stub body: `...` is code here and the exact tier finds it.
    let original = "def f():\n    ...\n";
    let applied = apply(
        original,
        &[block("def f():\n    ...\n", "def f():\n    return 1\n")],
    );
    assert_eq!(applied.text, "def f():\n    return 1\n");
    assert_eq!(applied.matches, vec![MatchKind::Exact]);
}

// --- fuzzy tier --------------------------------------------------------

const FUZZY_FILE: &str = "use std::fmt;\n\nfn total(items: &[Item]) -> u32 {\n    let mut sum = 0;\n    for item in items {\n        sum += item.price;\n    }\n    sum\n}\n\nfn main() {\n    println!(\"{}\", total(&[]));\n}\n";

#[test]
fn fuzzy_applies_a_block_with_a_typo() {
    // `item.prize`: the model misquoted one line it keeps.
    let search = "fn total(items: &[Item]) -> u32 {\n    let mut sum = 0;\n    for item in items {\n        sum += item.prize;\n    }\n    sum\n}\n";
    let replace = "fn total(items: &[Item]) -> u32 {\n    let mut sum = 0;\n    for item in items {\n        sum += item.prize;\n    }\n    log(sum);\n    sum\n}\n";
    let applied = apply(FUZZY_FILE, &[block(search, replace)]);
    // The added line is in, and the kept line is the file's, not the misquote.
    assert_eq!(
        applied.text,
        FUZZY_FILE.replace("    }\n    sum\n", "    }\n    log(sum);\n    sum\n")
    );
    assert_eq!(applied.matches, vec![MatchKind::Fuzzy]);
}

#[test]
fn fuzzy_reindents_and_keeps_crlf() {
    let original = FUZZY_FILE.replace('\n', "\r\n");
    // Indented wrong, and `sum` typed `sun`.
    let search = "  fn total(items: &[Item]) -> u32 {\n      let mut sum = 0;\n      for item in items {\n          sum += item.price;\n      }\n      sun\n  }\n";
    let replace = "  fn total(items: &[Item]) -> u32 {\n      let mut sum = 0;\n      for item in items {\n          sum += item.price * item.count;\n      }\n      sun\n  }\n";
    let applied = apply(&original, &[block(search, replace)]);
    let expected = FUZZY_FILE
        .replace("sum += item.price;", "sum += item.price * item.count;")
        .replace('\n', "\r\n");
    assert_eq!(applied.text, expected);
    assert_eq!(applied.matches, vec![MatchKind::Fuzzy]);
}

#[test]
fn fuzzy_keeps_a_file_line_the_search_left_out() {
    let original = "fn main() {\n    let args = parse();\n    let config = load(&args);\n\n    let data = fetch(&config);\n    process(data);\n}\n";
    // The blank line is missing from the search, and `config` is misspelt.
    let search = "    let args = parse();\n    let config = load(&args);\n    let data = fetch(&confg);\n    process(data);\n";
    let replace = "    let args = parse();\n    let config = load(&args);\n    let data = fetch(&confg);\n    process(data)?;\n";
    let applied = apply(original, &[block(search, replace)]);
    assert_eq!(
        applied.text,
        original.replace("process(data);", "process(data)?;")
    );
    assert_eq!(applied.matches, vec![MatchKind::Fuzzy]);
}

#[test]
fn fuzzy_refuses_when_two_places_are_equally_close() {
    let twice = "fn a() {\n    let value = compute(1);\n    store(value);\n}\n\nfn b() {\n    let value = compute(1);\n    store(value);\n}\n";
    let search = "    let value = compute(1);\n    stor(value);\n";
    let result = apply_blocks(twice, &[block(search, "    stored(value);\n")]);
    assert!(
        matches!(result, Err(EditError::NoMatch { .. })),
        "{result:?}"
    );
    // With only one such place, the same block applies.
    let once = "fn a() {\n    let value = compute(1);\n    store(value);\n}\n";
    let applied = apply(
        once,
        &[block(
            search,
            "    let value = compute(1);\n    save(value);\n",
        )],
    );
    assert_eq!(
        applied.text,
        "fn a() {\n    let value = compute(1);\n    save(value);\n}\n"
    );
    assert_eq!(applied.matches, vec![MatchKind::Fuzzy]);
}

#[test]
fn fuzzy_refuses_a_one_line_search() {
    let original = "let value = compute(12345);\nother();\n";
    let result = apply_blocks(original, &[block("let value = compute(12346);\n\n", "x\n")]);
    assert!(
        matches!(result, Err(EditError::NoMatch { .. })),
        "{result:?}"
    );
}

#[test]
fn fuzzy_refuses_lines_that_are_not_close_enough() {
    let search =
        "fn total(items: &[Item]) -> u64 {\n    let mut acc = 0u64;\n    for it in items {\n";
    let result = apply_blocks(FUZZY_FILE, &[block(search, "x\n")]);
    let Err(EditError::NoMatch {
        search: reported, ..
    }) = result
    else {
        panic!("expected no match, got {result:?}");
    };
    assert_eq!(reported, search);
}

#[test]
fn similarity_is_the_diff_ratio() {
    // A small deterministic generator; few letters, so the texts share a lot.
    let mut seed = 0x2545_f491_u32;
    let mut text = |len: u32| -> Vec<char> {
        (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ['a', 'b', 'c', '\n'][(seed >> 16) as usize % 4]
            })
            .collect()
    };
    for round in 0..300 {
        let a = text(round % 40);
        let b = text((round * 7) % 45);
        let (a_text, b_text): (String, String) = (a.iter().collect(), b.iter().collect());
        let expected = similar::TextDiff::from_chars(&a_text, &b_text).ratio();
        let mut steps = COMPARE_STEPS;
        assert_eq!(
            similarity_at_least(&a, &b, 0.0, &mut steps).unwrap(),
            Some(expected),
            "{a_text:?} {b_text:?}"
        );
        // A floor above the ratio stops early and says so.
        let floor = expected + 0.01;
        if floor <= 1.0 {
            let mut steps = COMPARE_STEPS;
            assert_eq!(
                similarity_at_least(&a, &b, floor, &mut steps).unwrap(),
                None
            );
        }
    }
    let (a, b) = (
        compared_chars(&["abcdef"; 20]),
        compared_chars(&["fedcba"; 20]),
    );
    let mut steps = 10;
    assert!(similarity_at_least(&a, &b, 0.0, &mut steps).is_err());
}

#[test]
fn match_kind_names() {
    let names: Vec<&str> = TIERS.iter().map(|kind| kind.name()).collect();
    assert_eq!(
        names,
        [
            "exact",
            "trailing-whitespace",
            "indentation",
            "elided",
            "fuzzy"
        ]
    );
}

// --- closest lines -----------------------------------------------------

#[test]
fn closest_lines_finds_the_most_similar_window() {
    let search = "    for item in itens {\n        sum += item.prize;\n";
    assert_eq!(
        closest_lines(FUZZY_FILE, search),
        Some((
            5,
            "    for item in items {\n        sum += item.price;\n".to_string()
        ))
    );
    // Blank lines around the search are ignored; CRLF files come back with LF.
    let crlf = FUZZY_FILE.replace('\n', "\r\n");
    assert_eq!(
        closest_lines(&crlf, "\nfn main() {\n\n"),
        Some((11, "fn main() {\n".to_string()))
    );
    // A search longer than the file gets the whole file.
    assert_eq!(
        closest_lines("a\nb", "a\nb\nc\nd\n"),
        Some((1, "a\nb\n".to_string()))
    );
    // Ties go to the first window.
    assert_eq!(
        closest_lines("x\ny\nx\n", "x\n"),
        Some((1, "x\n".to_string()))
    );
}

#[test]
fn closest_lines_of_nothing() {
    assert_eq!(closest_lines("", "a\n"), None);
    assert_eq!(closest_lines("\n  \n", "a\n"), None);
    assert_eq!(closest_lines("a\n", ""), None);
    assert_eq!(closest_lines("a\n", "\n\n"), None);
}

#[test]
fn closest_lines_on_a_large_file_finds_the_window_within_its_work_limit() {
    let file: String = (0..5000)
        .map(|i| {
            format!(
                "    let value_{i} = compute({i}, \"label {}\");\n",
                i * 7 % 13
            )
        })
        .collect();
    let search = "    let value_2500 = compute(2500, \"label 11\");\n    let valu_2501 = compute(2501, \"label 5\");\n";
    assert_eq!(
        closest_lines(&file, search).map(|(line, _)| line),
        Some(2501)
    );
    // Nothing like it anywhere: every window is about as far.
    let far = "fn unrelated() -> Option<String> {\n    None\n}\n";
    assert!(closest_lines(&file, far).is_some());
    let result = apply_blocks(&file, &[block(far, "x\n")]);
    assert!(matches!(result, Err(EditError::NoMatch { .. })));
}

// --- resolve -----------------------------------------------------------

#[test]
fn resolve_no_change_returns_original() {
    let applied = resolve("a\r\nb", &Answer::NoChange);
    assert_eq!(
        applied,
        Ok(Applied {
            text: "a\r\nb".to_string(),
            matches: Vec::new(),
        })
    );
}

#[test]
fn resolve_whole_file_keeps_crlf_and_final_newline() {
    let answer = Answer::WholeFile("x\ny".to_string());
    let applied = resolve("a\r\nb\r\n", &answer);
    assert_eq!(applied.map(|a| a.text), Ok("x\r\ny\r\n".to_string()));
}

#[test]
fn resolve_whole_file_keeps_missing_final_newline() {
    let answer = Answer::WholeFile("x\ny\n\n".to_string());
    let applied = resolve("a\nb", &answer);
    assert_eq!(applied.map(|a| a.text), Ok("x\ny".to_string()));
}

#[test]
fn resolve_blocks_applies_them() {
    let answer = parse_answer("<<<<<<< SEARCH\nb\n=======\nB\n>>>>>>> REPLACE\n", false);
    let applied = answer.and_then(|answer| resolve("a\nb\n", &answer));
    assert_eq!(
        applied,
        Ok(Applied {
            text: "a\nB\n".to_string(),
            matches: vec![MatchKind::Exact],
        })
    );
}

#[test]
fn hidden_characters_in_added_lines_are_flagged() {
    let old = "a = 1\nb = 2\n";
    let trojan = "a = 1\nif access_level != \"user\u{202E} \u{2066}\": # admin\nb = 2\n";
    let flags = hidden_characters(old, trojan);
    assert_eq!(
        flags,
        vec![
            "line 2: U+202E RIGHT-TO-LEFT OVERRIDE".to_owned(),
            "line 2: U+2066 LEFT-TO-RIGHT ISOLATE".to_owned()
        ]
    );
    assert_eq!(
        hidden_characters(old, "a = 1\nb\u{200B} = 2\n"),
        vec!["line 2: U+200B ZERO WIDTH SPACE".to_owned()]
    );
    // Lines that were there before, and visible non-ASCII text, are not flagged.
    let kept = "x = \"\u{200B}\"\n";
    assert!(hidden_characters(kept, &format!("{kept}y = \"café ünïcode ✓\"\n")).is_empty());
}

// --- repetition --------------------------------------------------------

const DOC_A: &str =
    "<<<<<<< SEARCH\ndef a():\n=======\ndef a():\n    \"\"\"A.\"\"\"\n>>>>>>> REPLACE\n";
const DOC_B: &str =
    "<<<<<<< SEARCH\ndef b():\n=======\ndef b():\n    \"\"\"B.\"\"\"\n>>>>>>> REPLACE\n";

#[test]
fn an_answer_repeats_itself_when_it_searches_for_the_same_text_again() {
    let looping = format!("{DOC_A}{DOC_B}{DOC_A}");
    assert!(repeats_itself(looping.as_bytes()));
    // Every prefix before the repeat's REPLACE line is still a fresh answer.
    let at = looping.rfind(">>>>>>>").unwrap();
    for end in 0..at {
        assert!(!repeats_itself(&looping.as_bytes()[..end]), "{end}");
    }
    // Line breaks after the marker often come as one token; prose may follow.
    assert!(repeats_itself(format!("{looping}\n\n").as_bytes()));
    assert!(!repeats_itself(format!("{looping}\nDone.\n").as_bytes()));
    // Different blocks; CRLF answers; a second block for the same text, edited otherwise.
    assert!(!repeats_itself(format!("{DOC_A}{DOC_B}").as_bytes()));
    let crlf = format!("{DOC_A}{DOC_A}").replace('\n', "\r\n");
    assert!(repeats_itself(crlf.as_bytes()));
    let other = DOC_A.replace("\"\"\"A.\"\"\"", "\"\"\"Another.\"\"\"");
    assert!(repeats_itself(format!("{DOC_A}{other}").as_bytes()));
}

#[test]
fn repeated_blocks_are_dropped_so_no_edit_is_applied_twice() {
    let other = DOC_A.replace("A.", "Another.");
    let mut answer = parse_answer(&format!("{DOC_A}{DOC_B}{DOC_A}{other}"), false).unwrap();
    assert_eq!(drop_repeats(&mut answer), 2);
    let applied = resolve("def a():\n    pass\ndef b():\n    pass\n", &answer).unwrap();
    assert_eq!(
        applied.text,
        "def a():\n    \"\"\"A.\"\"\"\n    pass\ndef b():\n    \"\"\"B.\"\"\"\n    pass\n"
    );
    let mut whole = Answer::WholeFile("x\n".into());
    assert_eq!(drop_repeats(&mut whole), 0);
}

#[test]
fn default_ignorable_characters_and_variation_selectors_are_flagged() {
    for (c, name) in [
        ('\u{FE0F}', "VARIATION SELECTOR"),
        ('\u{E0101}', "VARIATION SELECTOR"),
        ('\u{2062}', "INVISIBLE OPERATOR"),
        ('\u{034F}', "DEFAULT IGNORABLE CODE POINT"),
        ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
    ] {
        let flags = hidden_characters("x = 1\n", &format!("x = 1\ny = \"a{c}b\"\n"));
        assert_eq!(flags.len(), 1, "{c:?}");
        assert!(flags[0].ends_with(name), "{flags:?}");
    }
    // Visible text, accents and CJK pass.
    assert!(hidden_characters("", "caf\u{e9} \u{4e2d}\u{6587} \u{2192}\n").is_empty());
}

// --- sorting blocks that apply from those that do not ------------------

#[test]
fn sort_blocks_keeps_what_applies_and_sets_aside_what_does_not() {
    let original = "a = 1\nb = 2\nc = 3\n";
    let blocks = [
        block("a = 1\n", "a = 10\n"),
        block("zzz = 9\n", "zzz = 0\n"),
        block("c = 3\n", "c = 30\n"),
    ];
    let sorted = sort_blocks(original, &blocks);
    assert_eq!(sorted.applied, vec![blocks[0].clone(), blocks[2].clone()]);
    assert_eq!(sorted.failed.len(), 1);
    assert_eq!(sorted.failed[0].0, blocks[1]);
    assert!(matches!(
        sorted.failed[0].1,
        EditError::NoMatch { block: 2, .. }
    ));
    // What applied applies again as a whole, to the same text.
    assert_eq!(
        apply(original, &sorted.applied).text,
        "a = 10\nb = 2\nc = 30\n"
    );
}

#[test]
fn sort_blocks_tries_each_block_on_the_text_the_ones_before_left() {
    // The second block searches for what the first one wrote: it applies only in order.
    let original = "x = 1\n";
    let blocks = [block("x = 1\n", "x = 2\n"), block("x = 2\n", "x = 3\n")];
    let sorted = sort_blocks(original, &blocks);
    assert_eq!(sorted.applied.len(), 2);
    assert!(sorted.failed.is_empty());
}
