package store

// defaultMmapSize is 0 on Windows, where mapping part of a file beyond its
// end grows the file to the mapping's size.
const defaultMmapSize = 0
