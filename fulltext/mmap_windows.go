package fulltext

// mmapSize is 0 (bbolt's default) on Windows, where mapping part of a file
// beyond its end grows the file to the mapping's size.
const mmapSize = 0
