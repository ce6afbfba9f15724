//! The README is part of the contract: its error table must be exactly the library's
//! catalog, so a name added in code and forgotten in the docs (or the reverse) fails here.

use trainguard_tests::workspace_root;

#[test]
fn readme_error_table_matches_the_catalog() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let begin = readme
        .find("<!-- errors:begin -->\n")
        .expect("errors:begin marker")
        + "<!-- errors:begin -->\n".len();
    let end = readme
        .find("<!-- errors:end -->")
        .expect("errors:end marker");
    let table = &readme[begin..end];
    let expected = trainguard::catalog::markdown_table();
    assert_eq!(
        table.trim(),
        expected.trim(),
        "README error table is stale: regenerate it with `cargo run -p trainguard-cli -- errors --markdown`"
    );
}
