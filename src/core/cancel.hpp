// Cooperative cancellation of a thread's long waits. A thread that works for an owner which may
// stop it (a batchifier's worker) installs the owner's flag with CancelScope; code deep below
// that waits on something slow (a shard being fetched, a request retrying against a server that
// went away) polls cancel_requested() and gives up with an error once the flag is set, so the
// owner's close() returns promptly instead of waiting out the retry policy. Threads without a
// scope are never cancelled.
#pragma once

#include <atomic>

namespace mouse::detail {

inline thread_local const std::atomic<bool>* tls_cancel_flag = nullptr;

/// Installs `flag` as the calling thread's cancellation flag for the scope's lifetime (scopes
/// nest; the previous flag comes back at the end).
class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>* flag) noexcept : previous_(tls_cancel_flag) {
    tls_cancel_flag = flag;
  }
  ~CancelScope() { tls_cancel_flag = previous_; }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

/// Whether the calling thread's owner asked it to stop.
inline bool cancel_requested() noexcept {
  const std::atomic<bool>* flag = tls_cancel_flag;
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

}  // namespace mouse::detail
