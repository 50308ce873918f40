use super::*;

const T1: &str = "2026-01-02T03:04:05.000000001Z";
const T2: &str = "2026-01-02T03:04:06.5Z";
const T3: &str = "2026-01-02T03:04:07+02:00";

fn now() -> Timestamp {
    "2026-01-02T03:05:00Z".parse().unwrap()
}

/// The output of a whole file under `options`, as a non-following read.
fn render(file: &str, options: &LogOptions) -> String {
    let mut start = 0;
    if let Some(n) = options.tail_lines {
        let mut scan = TailScan::new(n);
        let mut splitter = Splitter::new(0);
        splitter.feed(file.as_bytes(), |offset, line| scan.record(offset, line));
        splitter.finish(|offset, line| scan.record(offset, line));
        start = scan.start() as usize;
    }
    let mut formatter = Formatter::new(options);
    let mut out = Vec::new();
    let mut splitter = Splitter::new(start as u64);
    splitter.feed(&file.as_bytes()[start..], |_, line| {
        formatter.push(line, &mut out)
    });
    splitter.finish(|_, line| formatter.push(line, &mut out));
    String::from_utf8(out).unwrap()
}

fn file(records: &[(&str, &str, &str, &str)]) -> String {
    records
        .iter()
        .map(|(t, s, tag, c)| format!("{t} {s} {tag} {c}\n"))
        .collect()
}

#[test]
fn full_records_are_lines() {
    let f = file(&[(T1, "stdout", "F", "hello"), (T2, "stdout", "F", "world")]);
    assert_eq!(render(&f, &LogOptions::default()), "hello\nworld\n");
}

#[test]
fn partial_records_join_until_a_full_one() {
    let f = file(&[
        (T1, "stdout", "P", "a long "),
        (T2, "stdout", "P", "line "),
        (T3, "stdout", "F", "ends"),
        (T3, "stdout", "F", "next"),
    ]);
    assert_eq!(
        render(&f, &LogOptions::default()),
        "a long line ends\nnext\n"
    );
}

#[test]
fn stderr_records_are_shown_with_stdout_ones() {
    let f = file(&[(T1, "stdout", "F", "out"), (T2, "stderr", "F", "err")]);
    assert_eq!(render(&f, &LogOptions::default()), "out\nerr\n");
    let record = parse_record(b"2026-01-02T03:04:06.5Z stderr F err").unwrap();
    assert_eq!(record.stream, Stream::Stderr);
    assert_eq!(record.content, b"err");
    assert!(!record.partial);
}

#[test]
fn content_keeps_its_spaces_and_may_be_empty() {
    let f = file(&[(T1, "stdout", "F", "  a  b "), (T2, "stdout", "F", "")]);
    assert_eq!(render(&f, &LogOptions::default()), "  a  b \n\n");
    assert_eq!(
        parse_record(b"2026-01-02T03:04:06Z stdout F")
            .unwrap()
            .content,
        b""
    );
}

#[test]
fn malformed_records_are_skipped() {
    let f = format!(
        "garbage\nnot-a-time stdout F x\n{T1} stdnothing F x\n{T1} stdout X x\n{T1} stdout\n{}",
        file(&[(T2, "stdout", "F", "kept")])
    );
    assert_eq!(render(&f, &LogOptions::default()), "kept\n");
}

#[test]
fn further_tags_after_the_first_are_ignored() {
    let record = parse_record(b"2026-01-02T03:04:06Z stdout P:x text").unwrap();
    assert!(record.partial);
    assert_eq!(record.content, b"text");
}

#[test]
fn tail_lines_keeps_the_last_lines() {
    let f = file(&[
        (T1, "stdout", "F", "one"),
        (T1, "stdout", "P", "tw"),
        (T1, "stdout", "F", "o"),
        (T2, "stdout", "F", "three"),
    ]);
    let tail = |n| {
        render(
            &f,
            &LogOptions {
                tail_lines: Some(n),
                ..LogOptions::default()
            },
        )
    };
    assert_eq!(tail(0), "");
    assert_eq!(tail(1), "three\n");
    assert_eq!(tail(2), "two\nthree\n");
    assert_eq!(tail(10), "one\ntwo\nthree\n");
}

#[test]
fn tail_lines_does_not_count_malformed_records() {
    let f = format!(
        "{}junk\n",
        file(&[(T1, "stdout", "F", "a"), (T2, "stdout", "F", "b")])
    );
    let options = LogOptions {
        tail_lines: Some(1),
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &options), "b\n");
}

#[test]
fn since_keeps_lines_at_or_after_the_time() {
    let f = file(&[
        (T1, "stdout", "F", "early"),
        (T2, "stdout", "F", "at"),
        (T3, "stdout", "F", "earliest, by its offset"),
    ]);
    let options = LogOptions {
        since: Some(T2.parse().unwrap()),
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &options), "at\n");
}

#[test]
fn a_joined_line_is_dated_by_its_first_record() {
    let f = file(&[(T1, "stdout", "P", "be"), (T2, "stdout", "F", "fore")]);
    let options = LogOptions {
        since: Some(T2.parse().unwrap()),
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &options), "");
    let options = LogOptions {
        timestamps: true,
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &options), format!("{T1} before\n"));
}

#[test]
fn timestamps_prefix_each_line_with_its_time() {
    let f = file(&[(T1, "stdout", "F", "a"), (T2, "stderr", "F", "b")]);
    let options = LogOptions {
        timestamps: true,
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &options), format!("{T1} a\n{T2} b\n"));
}

#[test]
fn limit_bytes_cuts_the_output_at_that_many_bytes() {
    let f = file(&[(T1, "stdout", "F", "hello"), (T2, "stdout", "F", "world")]);
    let limit = |n| LogOptions {
        limit_bytes: Some(n),
        ..LogOptions::default()
    };
    assert_eq!(render(&f, &limit(3)), "hel");
    assert_eq!(render(&f, &limit(6)), "hello\n");
    assert_eq!(render(&f, &limit(8)), "hello\nwo");
    assert_eq!(render(&f, &limit(100)), "hello\nworld\n");
    let mut formatter = Formatter::new(&limit(2));
    formatter.push(format!("{T1} stdout F abc").as_bytes(), &mut Vec::new());
    assert!(formatter.exhausted());
}

#[test]
fn records_split_across_reads_are_whole() {
    let f = file(&[(T1, "stdout", "F", "split me"), (T2, "stdout", "F", "too")]);
    let mut seen = Vec::new();
    let mut splitter = Splitter::new(0);
    for byte in f.as_bytes().chunks(3) {
        splitter.feed(byte, |offset, line| seen.push((offset, line.to_vec())));
    }
    let first = format!("{T1} stdout F split me");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (0, first.clone().into_bytes()));
    assert_eq!(seen[1].0, first.len() as u64 + 1);
}

#[test]
fn an_unterminated_last_record_counts_once_the_file_is_complete() {
    let mut splitter = Splitter::new(0);
    let mut seen = Vec::new();
    splitter.feed(format!("{T1} stdout F last").as_bytes(), |_, l| {
        seen.push(l.to_vec())
    });
    assert!(seen.is_empty());
    splitter.finish(|_, l| seen.push(l.to_vec()));
    assert_eq!(seen, [format!("{T1} stdout F last").into_bytes()]);
}

#[test]
fn an_overlong_record_is_dropped() {
    let mut splitter = Splitter::new(0);
    let mut seen = Vec::new();
    let long = vec![b'x'; MAX_RECORD_BYTES + 1];
    splitter.feed(&long, |_, l| seen.push(l.to_vec()));
    splitter.feed(b"still long\nok\n", |o, l| {
        seen.push([o.to_string().as_bytes(), l].concat())
    });
    let offset = (MAX_RECORD_BYTES + 1 + "still long\n".len()).to_string();
    assert_eq!(seen, [format!("{offset}ok").into_bytes()]);
}

#[test]
fn options_read_the_query_kubectl_sends() {
    let o = LogOptions::parse(
        "follow=true&previous=1&tailLines=10&timestamps=true&limitBytes=500&pretty=x",
        now(),
    )
    .unwrap();
    assert_eq!(
        o,
        LogOptions {
            follow: true,
            previous: true,
            tail_lines: Some(10),
            timestamps: true,
            since: None,
            limit_bytes: Some(500),
        }
    );
    let o = LogOptions::parse("sinceSeconds=60", now()).unwrap();
    assert_eq!(o.since, Some("2026-01-02T03:04:00Z".parse().unwrap()));
    let o = LogOptions::parse("sinceTime=2026-01-02T05%3A04%3A00%2B02%3A00", now()).unwrap();
    assert_eq!(o.since, Some("2026-01-02T03:04:00Z".parse().unwrap()));
    assert_eq!(LogOptions::parse("", now()).unwrap(), LogOptions::default());
}

#[test]
fn bad_option_values_are_refused() {
    for query in [
        "follow=maybe",
        "tailLines=-1",
        "tailLines=ten",
        "limitBytes=0",
        "sinceSeconds=0",
        "sinceTime=yesterday",
        "sinceSeconds=5&sinceTime=2026-01-02T03:04:00Z",
    ] {
        assert!(LogOptions::parse(query, now()).is_err(), "{query}");
    }
    assert_eq!(
        LogOptions::parse("tailLines=-1", now()).unwrap_err(),
        "tailLines: Invalid value: -1: must be greater than or equal to 0"
    );
}
