//! Embeds every migration file: `migrations/<backend>/NNNN_name.sql` becomes one entry of
//! that backend's list, in order. A file cannot be forgotten, and a gap or a duplicate in the
//! numbering stops the build. (`sqlx::migrate!` would do the embedding too, but its macro
//! crate compiles the bundled SQLite a second time, for the build host.)

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for backend in ["sqlite", "postgres"] {
        let folder = Path::new("migrations").join(backend);
        println!("cargo::rerun-if-changed={}", folder.display());
        let mut files: Vec<(i64, String)> = std::fs::read_dir(&folder)
            .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
            .map(|entry| {
                let name = entry.expect("a readable folder").file_name();
                let name = name.to_string_lossy().into_owned();
                let version = name
                    .split('_')
                    .next()
                    .and_then(|number| number.parse().ok())
                    .unwrap_or_else(|| panic!("{backend}/{name}: expected NNNN_name.sql"));
                (version, name)
            })
            .collect();
        files.sort();
        let mut list = String::from("&[\n");
        for (index, (version, name)) in files.iter().enumerate() {
            let expected = i64::try_from(index).expect("few files") + 1;
            assert_eq!(
                *version, expected,
                "{backend}/{name}: expected migration {expected}"
            );
            let path = std::fs::canonicalize(folder.join(name)).expect("the file exists");
            writeln!(
                list,
                "    ({version}, include_str!({:?})),",
                path.display().to_string()
            )
            .expect("writing to a string");
        }
        list.push(']');
        std::fs::write(
            Path::new(&out).join(format!("{backend}_migrations.rs")),
            list,
        )
        .expect("OUT_DIR is writable");
    }
}
