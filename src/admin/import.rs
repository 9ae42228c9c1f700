//! Reading a user import file: CSV with a header row, or JSON lines.

use super::UserSpec;

/// One row of an import: its line number and what was wrong with it.
#[derive(Debug)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

/// Parses an import file: CSV with a header row (`username,password,email,nickname,superuser`)
/// or JSON lines, told apart by the first non-blank character.
pub fn parse_import(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let first = text.trim_start().chars().next();
    if first == Some('{') {
        parse_json_lines(text)
    } else {
        parse_csv(text)
    }
}

fn parse_json_lines(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<UserSpec>(line) {
            Ok(spec) => good.push((i + 1, spec)),
            Err(e) => bad.push(RowError {
                line: i + 1,
                message: format!("not a user object: {e}"),
            }),
        }
    }
    (good, bad)
}

/// 1-based line where the record at `byte` starts. csv reports the offset before any blank
/// lines it skipped (and its own line count ignores them), so count from the text.
fn line_of(text: &str, byte: u64) -> usize {
    let bytes = text.as_bytes();
    let mut start = (byte as usize).min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
        start += 1;
    }
    bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
}

fn parse_csv(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            bad.push(RowError {
                line: 1,
                message: format!("cannot read the header row: {e}"),
            });
            return (good, bad);
        }
    };
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(user_col), Some(pass_col)) = (col("username"), col("password")) else {
        bad.push(RowError {
            line: 1,
            message: "the header row needs `username` and `password` columns".into(),
        });
        return (good, bad);
    };
    let known = ["username", "password", "email", "nickname", "superuser"];
    if let Some(h) = headers
        .iter()
        .find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
    {
        bad.push(RowError {
            line: 1,
            message: format!("unknown column `{h}`; known: {}", known.join(", ")),
        });
        return (good, bad);
    }
    let (email_col, nick_col, super_col) = (col("email"), col("nickname"), col("superuser"));
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(text, p.byte()));
                bad.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_of(text, p.byte()));
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).filter(|v| !v.is_empty());
        let superuser = match get(super_col).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                bad.push(RowError {
                    line,
                    message: format!("superuser must be true or false, not `{other}`"),
                });
                continue;
            }
        };
        good.push((
            line,
            UserSpec {
                username: get(Some(user_col)).unwrap_or_default().to_owned(),
                password: get(Some(pass_col)).unwrap_or_default().to_owned(),
                email: get(email_col).map(str::to_owned),
                nickname: get(nick_col).map(str::to_owned),
                superuser,
                ..UserSpec::default()
            },
        ));
    }
    (good, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let (good, bad) =
            parse_import("username,password,email\nalice,pw-alice-1,a@x.io\n\nbob,pw-bob-12\n");
        assert!(bad.is_empty());
        assert_eq!(good.len(), 2);
        assert_eq!((good[0].0, good[1].0), (2, 4));
        assert_eq!(good[1].1.email, None);
    }

    #[test]
    fn csv_without_required_columns_is_refused() {
        let (good, bad) = parse_import("name,pass\nalice,x\n");
        assert!(good.is_empty());
        assert_eq!(bad[0].line, 1);
    }

    #[test]
    fn json_lines_report_bad_lines() {
        let (good, bad) = parse_import(
            "{\"username\":\"a1b\",\"password\":\"longenough\"}\nnot json\n\n{\"username\":\"c\",\"pw\":1}\n",
        );
        assert_eq!(good.len(), 1);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 4]);
    }
}
