// What one subscriber received, checked against the positions the writer had
// acknowledged, without keeping a set per subscriber (10,000 subscribers ×
// the run's writes would not fit):
//
//   received = (0, last]  minus  gaps
//
// A position above `last` is new, and a jump past last+1 records the skipped
// interval as a gap (normally there are none: the table's positions are
// consecutive when only the load generator writes). A position equal to
// `last` is a duplicate. One below it is out of order, and also a duplicate
// unless it fills (part of) a gap. At the end an acknowledged position is
// missing when it lies in a gap or above `last`. Positions nobody
// acknowledged (another writer's, or a PUT whose answer was lost) may be
// received or not: they are never counted missing.
//
// Header-only; one instance per subscriber, used on the loop thread.
#ifndef EVENTIDE_TOOLS_DELIVERY_CHECK_H_
#define EVENTIDE_TOOLS_DELIVERY_CHECK_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace eventide::load {

class DeliveryCheck {
 public:
  void Receive(uint64_t pos) {
    if (pos > last_) {
      if (pos > last_ + 1) gaps_.push_back({last_ + 1, pos - 1});
      last_ = pos;
      return;
    }
    if (pos == last_) {
      ++duplicates_;
      return;
    }
    ++out_of_order_;
    auto it = std::upper_bound(gaps_.begin(), gaps_.end(), pos,
                               [](uint64_t p, const Gap& g) { return p < g.first; });
    if (it == gaps_.begin() || std::prev(it)->second < pos) {
      ++duplicates_;  // below the last and in no gap: received before
      return;
    }
    --it;  // it fills a gap: shrink or split it
    auto [first, last] = *it;
    if (first == last) {
      gaps_.erase(it);
    } else if (pos == first) {
      it->first = pos + 1;
    } else if (pos == last) {
      it->second = pos - 1;
    } else {
      it->second = pos - 1;
      gaps_.insert(it + 1, {pos + 1, last});
    }
  }

  // Positions in `acked` (sorted ascending, distinct) never received.
  uint64_t Missing(const std::vector<uint64_t>& acked) const {
    uint64_t missing =
        static_cast<uint64_t>(acked.end() - std::upper_bound(acked.begin(), acked.end(), last_));
    for (const auto& [first, last] : gaps_) {
      missing += static_cast<uint64_t>(std::upper_bound(acked.begin(), acked.end(), last) -
                                       std::lower_bound(acked.begin(), acked.end(), first));
    }
    return missing;
  }

  uint64_t last() const { return last_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t out_of_order() const { return out_of_order_; }

 private:
  using Gap = std::pair<uint64_t, uint64_t>;  // [first, last]
  uint64_t last_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t out_of_order_ = 0;
  std::vector<Gap> gaps_;  // ascending, disjoint, all below last_
};

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_DELIVERY_CHECK_H_
