//! Differences between two schema descriptions from [`describe_schema`](crate::schema::describe_schema),
//! one per object part, as `harness drift` and `migrations.roundtrip` report them.
//!
//! A description is a list of objects: a line at the start of a row (`table videos`) opens an
//! object, and the indented lines under it (`  column title text not null`) are its parts. A
//! part is keyed by its first two words (`column title`, `index videos_pkey:`), so that a
//! changed column type is one difference and not a missing and an unexpected line.

use std::collections::BTreeMap;

/// One object of a description: its header line and its parts by key.
#[derive(Default)]
struct Object {
    /// Parts by key, each with its full text. Several lines share a key only where the first
    /// words repeat, such as the lines of a view or function definition.
    parts: BTreeMap<String, Vec<String>>,
    /// Part keys in description order, to tell a reordering (such as column order) apart.
    order: Vec<String>,
}

/// Names of the two descriptions in difference messages, such as `the replayed schema` and
/// `the live database`.
#[derive(Clone, Copy, Debug)]
pub struct Sides<'a> {
    /// The description that is right by definition.
    pub expected: &'a str,
    /// The description that is checked.
    pub actual: &'a str,
}

/// The names `harness drift` uses.
pub const DRIFT_SIDES: Sides<'static> = Sides {
    expected: "the replayed schema",
    actual: "the live database",
};

/// Returns one line per difference between `expected` and `actual`, in object order. An empty
/// list means that the descriptions are equal.
pub fn diff_schemas(expected: &str, actual: &str, sides: Sides<'_>) -> Vec<String> {
    let expected = parse(expected);
    let actual = parse(actual);
    let mut differences = Vec::new();

    for (header, expected_object) in &expected {
        match actual.get(header) {
            None => differences.push(format!(
                "{header} is missing from {}{}",
                sides.actual,
                grant_list(expected_object)
            )),
            Some(found) => diff_object(header, expected_object, found, sides, &mut differences),
        }
    }
    for (header, found) in &actual {
        if !expected.contains_key(header) {
            differences.push(format!(
                "{header} exists in {} but not in {}{}",
                sides.actual,
                sides.expected,
                grant_list(found)
            ));
        }
    }
    differences
}

/// Returns `: ` and the parts of an object that consists only of grants, such as a default
/// privileges entry, or an empty string for any other object. Such an object is only its
/// grants, so a difference that names the header alone would not say what to grant or revoke.
fn grant_list(object: &Object) -> String {
    let lines: Vec<&String> = object
        .order
        .iter()
        .flat_map(|key| &object.parts[key])
        .collect();
    let only_grants = lines
        .iter()
        .all(|line| line.starts_with("grant ") || *line == "no privileges");
    if lines.is_empty() || !only_grants {
        return String::new();
    }
    let quoted: Vec<String> = lines.iter().map(|line| format!("`{line}`")).collect();
    format!(": {}", quoted.join("; "))
}

fn diff_object(
    header: &str,
    expected: &Object,
    found: &Object,
    sides: Sides<'_>,
    differences: &mut Vec<String>,
) {
    for (key, expected_lines) in &expected.parts {
        match found.parts.get(key) {
            None => differences.push(format!(
                "{header}: `{}` is missing from {}",
                expected_lines.join("; "),
                sides.actual
            )),
            Some(found_lines) if found_lines != expected_lines => differences.push(format!(
                "{header}: `{}` in {}, but {} has `{}`",
                found_lines.join("; "),
                sides.actual,
                sides.expected,
                expected_lines.join("; ")
            )),
            Some(_) => {}
        }
    }
    for (key, found_lines) in &found.parts {
        if !expected.parts.contains_key(key) {
            differences.push(format!(
                "{header}: `{}` exists in {} but not in {}",
                found_lines.join("; "),
                sides.actual,
                sides.expected
            ));
        }
    }

    let same_keys = expected.parts.len() == found.parts.len()
        && expected
            .parts
            .keys()
            .all(|key| found.parts.contains_key(key));
    if same_keys && expected.order != found.order {
        differences.push(format!(
            "{header}: the parts (such as the columns) are in a different order in {} than in {}",
            sides.actual, sides.expected
        ));
    }
}

/// Returns `description` without the object whose header line is `header` and its parts,
/// such as `table _sqlx_migrations` when two ledgers of different tools are compared.
pub fn remove_object(description: &str, header: &str) -> String {
    let mut remaining = String::new();
    let mut inside = false;
    for line in description.lines() {
        if !line.starts_with(' ') {
            inside = line == header;
        }
        if !inside {
            remaining.push_str(line);
            remaining.push('\n');
        }
    }
    remaining
}

fn parse(description: &str) -> BTreeMap<String, Object> {
    let mut objects: BTreeMap<String, Object> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in description.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            objects.entry(line.to_owned()).or_default();
            current = Some(line.to_owned());
            continue;
        }
        let part = line.trim();
        let key = part_key(part);
        let header = current.clone().unwrap_or_default();
        let object = objects.entry(header).or_default();
        if !object.parts.contains_key(&key) {
            object.order.push(key.clone());
        }
        object.parts.entry(key).or_default().push(part.to_owned());
    }
    objects
}

/// Returns the key of a part: its first two words, the first word alone for `owner`, four
/// words for a column grant (`column title grant lv_app:`), whose first two words name only
/// the column, and three for a role membership (`member of lv_app`, `has member lv_app`),
/// whose third word is the other role.
///
/// NOTE: a quoted name with a space (`grant "Ops Team":`) is cut at the space, so two such
/// names that share a first word share a key, and a difference in either shows both lines.
fn part_key(part: &str) -> String {
    let words: Vec<&str> = part.split_whitespace().collect();
    let count = match (words.first(), words.get(1), words.get(2)) {
        (Some(&"owner"), _, _) => 1,
        (Some(&"column"), _, Some(&"grant")) => 4,
        (Some(&"member"), Some(&"of"), _) | (Some(&"has"), Some(&"member"), _) => 3,
        _ => 2,
    };
    words
        .iter()
        .take(count)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "\
schema public
  owner lv_migrator
table videos
  owner lv_migrator
  column id uuid not null default gen_random_uuid()
  column title text not null
  index videos_pkey: CREATE UNIQUE INDEX videos_pkey ON public.videos USING btree (id)
  grant lv_app: DELETE, INSERT, SELECT, UPDATE
";

    #[test]
    fn same_description_has_no_difference() {
        assert!(diff_schemas(REFERENCE, REFERENCE, DRIFT_SIDES).is_empty());
    }

    #[test]
    fn added_column_is_named() {
        let live = REFERENCE.replace(
            "  column title text not null\n",
            "  column title text not null\n  column note text\n",
        );

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "table videos: `column note text` exists in the live database but not in the \
                 replayed schema"
            ]
        );
    }

    #[test]
    fn changed_type_is_one_difference() {
        let live = REFERENCE.replace(
            "column title text not null",
            "column title character varying(20) not null",
        );

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "table videos: `column title character varying(20) not null` in the live \
              database, but the replayed schema has `column title text not null`"
            ]
        );
    }

    #[test]
    fn dropped_index_and_grant_are_named() {
        let live = REFERENCE
            .replace(
                "  index videos_pkey: CREATE UNIQUE INDEX videos_pkey ON public.videos USING btree (id)\n",
                "",
            )
            .replace("DELETE, INSERT, SELECT, UPDATE", "INSERT, SELECT, UPDATE");

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(
            differences[0].starts_with("table videos: `grant lv_app: INSERT, SELECT, UPDATE`"),
            "{differences:?}"
        );
        assert!(
            differences[1].starts_with("table videos: `index videos_pkey:"),
            "{differences:?}"
        );
        assert!(
            differences[1].ends_with("is missing from the live database"),
            "{differences:?}"
        );
    }

    #[test]
    fn extra_and_missing_tables_are_named() {
        let live = REFERENCE.replace("table videos", "table clips");

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "table videos is missing from the live database",
                "table clips exists in the live database but not in the replayed schema",
            ]
        );
    }

    #[test]
    fn one_sided_default_privileges_list_grants() {
        let live = format!(
            "{REFERENCE}default privileges for role lv_migrator in schema public on tables\n  \
             grant lv_app: SELECT\n  grant lv_migrator: DELETE, INSERT\n"
        );

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "default privileges for role lv_migrator in schema public on tables exists in \
                 the live database but not in the replayed schema: `grant lv_app: SELECT`; \
                 `grant lv_migrator: DELETE, INSERT`"
            ]
        );
    }

    #[test]
    fn missing_default_privileges_list_grants() {
        let reference = format!(
            "{REFERENCE}default privileges for role lv_migrator on functions\n  no privileges\n"
        );

        let differences = diff_schemas(&reference, REFERENCE, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "default privileges for role lv_migrator on functions is missing from the live \
                 database: `no privileges`"
            ]
        );
    }

    #[test]
    fn one_sided_table_is_named_alone() {
        let live = format!("{REFERENCE}table clips\n  owner lv_migrator\n  grant lv_app: SELECT\n");

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            ["table clips exists in the live database but not in the replayed schema"]
        );
    }

    #[test]
    fn disabled_trigger_is_one_difference() {
        let reference = format!(
            "{REFERENCE}  trigger videos_touch: CREATE TRIGGER videos_touch BEFORE UPDATE ON \
             public.videos FOR EACH ROW EXECUTE FUNCTION touch()\n"
        );
        let live = reference.replace("touch()\n", "touch() (disabled)\n");

        let differences = diff_schemas(&reference, &live, DRIFT_SIDES);

        assert_eq!(differences.len(), 1, "{differences:?}");
        assert!(
            differences[0].starts_with("table videos: `trigger videos_touch: CREATE TRIGGER"),
            "{differences:?}"
        );
        assert!(
            differences[0].contains("touch() (disabled)` in the live database"),
            "{differences:?}"
        );
    }

    #[test]
    fn changed_option_value_is_one_difference() {
        let reference = REFERENCE.replace(
            "  owner lv_migrator\n  column id",
            "  owner lv_migrator\n  option fillfactor = 100\n  column id",
        );
        let live = reference.replace("fillfactor = 100", "fillfactor = 70");

        let differences = diff_schemas(&reference, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "table videos: `option fillfactor = 70` in the live database, but the replayed \
                 schema has `option fillfactor = 100`"
            ]
        );
    }

    #[test]
    fn remove_object_drops_its_parts() {
        let description = "table a\n  column x int\ntable b\n  column y int\n";

        assert_eq!(
            remove_object(description, "table a"),
            "table b\n  column y int\n"
        );
    }

    #[test]
    fn changed_policy_is_one_difference() {
        let reference =
            format!("{REFERENCE}  policy own_rows: permissive for SELECT to lv_app using (true)\n");
        let live = reference.replace("using (true)", "using (false)");

        let differences = diff_schemas(&reference, &live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "table videos: `policy own_rows: permissive for SELECT to lv_app using (false)` \
                 in the live database, but the replayed schema has `policy own_rows: permissive \
                 for SELECT to lv_app using (true)`"
            ]
        );
    }

    #[test]
    fn each_membership_is_its_own_part() {
        let reference = "role lv_app\n  member of lv_readers\n";
        let live = "role lv_app\n  member of lv_readers\n  member of lv_migrator\n";

        let differences = diff_schemas(reference, live, DRIFT_SIDES);

        assert_eq!(
            differences,
            [
                "role lv_app: `member of lv_migrator` exists in the live database but not in \
                 the replayed schema"
            ]
        );
    }

    #[test]
    fn column_order_is_a_difference() {
        let live = REFERENCE.replace(
            "  column id uuid not null default gen_random_uuid()\n  column title text not null\n",
            "  column title text not null\n  column id uuid not null default gen_random_uuid()\n",
        );

        let differences = diff_schemas(REFERENCE, &live, DRIFT_SIDES);

        assert_eq!(differences.len(), 1, "{differences:?}");
        assert!(
            differences[0].starts_with("table videos: the parts (such as the columns) are in a"),
            "{differences:?}"
        );
    }
}
