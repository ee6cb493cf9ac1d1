//! Allowed values of columns constrained by a `CHECK (column IN (...))` list, read from the text
//! that `pg_get_constraintdef` returns for the constraint. Postgres 15 returns the IN list as
//! `column = ANY (ARRAY[...])`, for example
//! `CHECK ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])))`.
//!
//! NOTE: only the `text` form is exercised against a real server (the `migrations.stepwise`
//! self-tests). The `varchar` form with casts, such as
//! `CHECK (((status)::text = ANY ((ARRAY['a'::character varying])::text[])))`, is parsed too,
//! but no fixture runs it.

/// Returns the values of the IN list in `definition` when the whole CHECK constraint is
/// `column IN (...)`. Returns `None` for any other expression, including an IN list combined
/// with other conditions and a list of one value, which Postgres stores as `column = value`.
pub fn parse_in_list(column: &str, definition: &str) -> Option<Vec<String>> {
    let array_start = definition.find("ARRAY[")?;
    let (prefix, rest) = definition.split_at(array_start);
    if !is_column_any(column, prefix) {
        return None;
    }

    let mut values = Vec::new();
    let mut rest = &rest["ARRAY[".len()..];
    loop {
        let (value, after_value) = parse_element(rest)?;
        values.push(value);
        if let Some(after_comma) = after_value.strip_prefix(", ") {
            rest = after_comma;
        } else if let Some(suffix) = after_value.strip_prefix(']') {
            return is_closing(suffix).then_some(values);
        } else {
            return None;
        }
    }
}

/// Checks whether `prefix`, the text before `ARRAY[`, is `CHECK (` then `column = ANY (` with optional
/// parentheses and a cast of the column, such as `CHECK (((status)::text = ANY ((`.
fn is_column_any(column: &str, prefix: &str) -> bool {
    let compact: String = prefix
        .chars()
        .filter(|character| !matches!(character, '(' | ')' | ' '))
        .collect();
    let Some(comparison) = compact.strip_prefix("CHECK") else {
        return false;
    };
    let Some(left) = comparison.strip_suffix("=ANY") else {
        return false;
    };
    let name = match left.split_once("::") {
        Some((name, _cast)) => name,
        None => left,
    };
    let quoted = format!("\"{}\"", column.replace('"', "\"\""));
    name == column.replace(' ', "") || name == quoted.replace(' ', "")
}

/// Checks whether `suffix`, the text after the closing `]`, contains only closing parentheses and an
/// optional array cast such as `::text[]`.
fn is_closing(suffix: &str) -> bool {
    let compact: String = suffix
        .chars()
        .filter(|character| !matches!(character, ')' | ' '))
        .collect();
    compact.is_empty() || (compact.starts_with("::") && compact.ends_with("[]"))
}

/// Parses one array element, `'text'::type` or a bare number, and returns its value and the
/// text after it.
fn parse_element(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('\'') else {
        let end = text.find([',', ']'])?;
        let number = &text[..end];
        let is_number = !number.is_empty()
            && number
                .chars()
                .all(|character| character.is_ascii_digit() || matches!(character, '-' | '.'));
        return is_number.then(|| (number.to_owned(), &text[end..]));
    };

    // A quote inside the literal is written as two quotes.
    let mut value = String::new();
    let mut characters = quoted.char_indices().peekable();
    let after_literal = loop {
        let (index, character) = characters.next()?;
        if character != '\'' {
            value.push(character);
        } else if let Some((_, '\'')) = characters.peek() {
            value.push('\'');
            characters.next();
        } else {
            break &quoted[index + 1..];
        }
    };

    let cast = after_literal.strip_prefix("::")?;
    let end = cast.find([',', ']'])?;
    Some((value, &cast[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_list_is_parsed() {
        let definition =
            "CHECK ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])))";

        let values = parse_in_list("action", definition);

        assert_eq!(
            values,
            Some(vec![
                "create".to_owned(),
                "update".to_owned(),
                "delete".to_owned()
            ])
        );
    }

    #[test]
    fn varchar_list_is_parsed() {
        let definition = "CHECK (((status)::text = ANY ((ARRAY['draft'::character varying, \
                          'it''s'::character varying])::text[])))";

        let values = parse_in_list("status", definition);

        assert_eq!(values, Some(vec!["draft".to_owned(), "it's".to_owned()]));
    }

    #[test]
    fn integer_list_is_parsed() {
        let values = parse_in_list("level", "CHECK ((level = ANY (ARRAY[1, 2, 3])))");

        assert_eq!(
            values,
            Some(vec!["1".to_owned(), "2".to_owned(), "3".to_owned()])
        );
    }

    #[test]
    fn quoted_column_is_parsed() {
        let definition = "CHECK ((\"Kind\" = ANY (ARRAY['a'::text, 'b'::text])))";

        let values = parse_in_list("Kind", definition);

        assert_eq!(values, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn other_column_is_rejected() {
        let definition = "CHECK ((action = ANY (ARRAY['create'::text, 'update'::text])))";

        assert_eq!(parse_in_list("status", definition), None);
    }

    #[test]
    fn list_with_other_condition_is_rejected() {
        let definition = "CHECK (((action = ANY (ARRAY['create'::text, 'update'::text])) AND \
                          (char_length(action) > 1)))";

        assert_eq!(parse_in_list("action", definition), None);
    }

    #[test]
    fn other_expression_is_rejected() {
        let definition = "CHECK (((char_length(title) >= 1) AND (char_length(title) <= 200)))";

        assert_eq!(parse_in_list("title", definition), None);
    }
}
