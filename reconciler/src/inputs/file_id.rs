//! Recognising a file already loaded, by the SHA-256 of its bytes.
//!
//! Acquirers resend files and staff copy them under new names; counting one twice would double
//! a day's takings. A file is identified by its content, not its name: [`FileId`] is the SHA-256
//! of the raw bytes, and [`LoadedFiles`] refuses a second file with the same id, naming both.
//! [`HashingReader`] computes the id while a parser streams the file, so a large file is read
//! only once.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};

use sha2::{Digest, Sha256};

use super::error::{InputError, Location, Reason};

/// The SHA-256 of a file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId([u8; 32]);

/// Size of the buffer used to hash a reader.
const HASH_BUFFER_BYTES: usize = 64 * 1024;

impl FileId {
    pub fn of_bytes(bytes: &[u8]) -> FileId {
        FileId(Sha256::digest(bytes).into())
    }

    /// Hashes everything `reader` yields, a buffer at a time.
    pub fn of_reader(mut reader: impl Read) -> io::Result<FileId> {
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; HASH_BUFFER_BYTES];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Ok(FileId(hasher.finalize().into())),
                Ok(count) => hasher.update(&buffer[..count]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Lower-case hexadecimal, as `sha256sum` prints it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileId({})", self.to_hex())
    }
}

/// A reader that hashes what passes through it. Wrap the file in it, put a `BufReader` around
/// that for the parser, and take the id with [`HashingReader::file_id`] once the parser has
/// read to the end (every parser does, to check that nothing follows the last record).
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes_read: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader { inner, hasher: Sha256::new(), bytes_read: 0 }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The id of the bytes read so far: the file's id if it was read to the end.
    pub fn file_id(&self) -> FileId {
        FileId(self.hasher.clone().finalize().into())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..count]);
        self.bytes_read += count as u64;
        Ok(count)
    }
}

/// The files loaded so far, by content. In memory: the reconciler's store will keep the same
/// ids durably; this type is the rule they follow.
#[derive(Debug, Default, Clone)]
pub struct LoadedFiles {
    names_by_id: HashMap<FileId, String>,
}

impl LoadedFiles {
    pub fn new() -> LoadedFiles {
        LoadedFiles::default()
    }

    /// Records a file as loaded, or refuses it when a file with the same content already is,
    /// with an error that names the new file and the one loaded first.
    pub fn register(&mut self, file_name: &str, id: FileId) -> Result<(), InputError> {
        if let Some(first_file) = self.names_by_id.get(&id) {
            return Err(InputError::new(
                file_name,
                Location::File,
                Reason::DuplicateFile { first_file: first_file.clone(), file_id: id.to_hex() },
            ));
        }
        self.names_by_id.insert(id, file_name.to_string());
        Ok(())
    }

    /// Hashes `bytes` and registers them under `file_name`, returning the id.
    pub fn register_bytes(&mut self, file_name: &str, bytes: &[u8]) -> Result<FileId, InputError> {
        let id = FileId::of_bytes(bytes);
        self.register(file_name, id)?;
        Ok(id)
    }

    /// The name under which content with this id was loaded, if it was.
    pub fn name_of(&self, id: &FileId) -> Option<&str> {
        self.names_by_id.get(id).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names_by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names_by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // `printf abc | sha256sum`
        assert_eq!(
            FileId::of_bytes(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(FileId::of_reader(&b"abc"[..]).unwrap(), FileId::of_bytes(b"abc"));
    }

    #[test]
    fn hashing_reader_matches_whole_hash() {
        let data = vec![7u8; 200_000];
        let mut reader = HashingReader::new(&data[..]);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(reader.bytes_read(), 200_000);
        assert_eq!(reader.file_id(), FileId::of_bytes(&data));
    }
}
