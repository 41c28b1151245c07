// Exceptions thrown by the mouse-data API. The hierarchy maps one-to-one onto Python's
// exception types for the (later) Python module.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mouse {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bad argument or configuration (Python ValueError).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A missing name: column, split, key (Python KeyError).
class KeyError : public Error {
 public:
  using Error::Error;
};

/// An index outside its range (Python IndexError).
class IndexError : public Error {
 public:
  using Error::Error;
};

/// A wrong type for an operation, e.g. a column that cannot convert (Python TypeError).
class TypeError : public Error {
 public:
  using Error::Error;
};

/// Corrupt, truncated or unsupported data. The message names the file (when known), the byte
/// offset (when known) and what was expected versus found; the parts are also kept separately.
class FormatError : public Error {
 public:
  /// `source` is a file name or a description of the bytes; `offset` < 0 means "unknown".
  FormatError(std::string source, int64_t offset, const std::string& what);

  /// The file or stream the bad data came from.
  const std::string& source() const noexcept { return source_; }
  /// Byte offset of the problem in `source`, or -1 when not known.
  int64_t offset() const noexcept { return offset_; }

 private:
  std::string source_;
  int64_t offset_;
};

/// A failing operating-system call (open, mmap, write, rename...), with the path and errno text.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace mouse

/// Checks an internal invariant in debug builds; a failure is a bug in mouse-data, not bad input.
#ifdef NDEBUG
#define MOUSE_DCHECK(cond) ((void)0)
#else
#include <cassert>
#define MOUSE_DCHECK(cond) assert(cond)
#endif
