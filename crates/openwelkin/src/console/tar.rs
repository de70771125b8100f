//! A minimal POSIX tar (ustar) writer for the designer export: regular files only, folders
//! under 155 bytes and names under 100, which is all a designer folder holds. `tar xf` reads it everywhere.

/// The archive of `files` (path, content), each under `root/`.
pub fn archive(root: &str, files: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, content) in files {
        let full = format!("{root}/{path}");
        // ustar keeps the folders in a 155-byte prefix and the file name in 100 bytes.
        let (prefix, name) = full.rsplit_once('/').unwrap_or(("", full.as_str()));
        let mut header = [0u8; 512];
        let name = &name.as_bytes()[..name.len().min(100)];
        header[..name.len()].copy_from_slice(name);
        let prefix = &prefix.as_bytes()[..prefix.len().min(155)];
        header[345..345 + prefix.len()].copy_from_slice(prefix);
        put_octal(&mut header[100..108], 0o644);
        put_octal(&mut header[108..116], 0);
        put_octal(&mut header[116..124], 0);
        put_octal(&mut header[124..136], content.len() as u64);
        put_octal(&mut header[136..148], 0);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|b| *b as u64).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(content.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    // Two empty blocks end the archive.
    out.resize(out.len() + 1024, 0);
    out
}

/// An octal number, zero-padded, NUL-terminated, filling the field.
fn put_octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}\0", width = field.len() - 1);
    field.copy_from_slice(text.as_bytes());
}
