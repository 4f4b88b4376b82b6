// Row policies (SPEC section 8): the small expression language of
// `@policy(read: "...", write: "...")`.
//
//   rule    := or
//   or      := and ("or" and)*
//   and     := primary ("and" primary)*
//   primary := "(" rule ")" | operand ("=" | "!=") operand
//   operand := FIELD | "$auth." CLAIM | "string" | 'string' | NUMBER
//            | true | false | null
//
// e.g. `author_id = $auth.sub or (published = true and account = $auth.account)`.
// Keywords are lower case; FIELD and CLAIM are [A-Za-z_][A-Za-z0-9_]*.
//
// A rule is parsed once, at start-up. Evaluating it is split so that the
// work per subscriber is a few comparisons of values already at hand:
//
//   per principal (a token):  Bind(claims)       -> Bound: $auth.* filled in
//   per record state:         Extract(record)    -> Row: the rule's fields
//   per subscriber and event: bound.Allows(row)  -> no JSON, no allocation
//
// Comparison: equal kinds and equal values (numbers numerically); no
// coercion between kinds ("1" != 1). A field the record lacks is null. A
// claim the token lacks (or no token at all) makes every comparison that
// uses it false, `!=` included: a rule can only grant on what it was shown.
#ifndef EVENTIDE_SRC_POLICY_POLICY_H_
#define EVENTIDE_SRC_POLICY_POLICY_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/status.h"

namespace eventide::policy {

// A JSON scalar as a rule sees it.
struct Value {
  enum class Kind : uint8_t { kMissing, kNull, kBool, kNumber, kString, kOther };
  Kind kind = Kind::kMissing;
  bool boolean = false;
  double number = 0;
  std::string string;

  static Value Of(const rapidjson::Value& v);  // objects and arrays are kOther
  // The comparison rules use (see above); kMissing and kOther equal nothing.
  static bool Equal(const Value& a, const Value& b);
  bool operator==(const Value& o) const = delete;
};

// One record's values of the fields a rule names, in Policy::fields() order.
using Row = std::vector<Value>;

class Bound;

// Who a request or stream acts for (its verified token), as rules see it.
struct Principal {
  std::string subject;      // "sub"; "" when anonymous or absent
  std::string claims_json;  // the token's claims object; "" = anonymous
  bool anonymous() const { return claims_json.empty(); }
};

class Policy : public std::enable_shared_from_this<Policy> {
 public:
  // Parses `text`. `is_field` says whether a name is one of the table's
  // columns. InvalidArgument "at character N: reason" (N from 1) on the
  // first error, naming the column or token.
  static Result<std::shared_ptr<const Policy>> Parse(
      std::string_view text, const std::function<bool(std::string_view)>& is_field);
  // `a and b` (either may be null: the other is returned).
  static std::shared_ptr<const Policy> And(std::shared_ptr<const Policy> a,
                                           std::shared_ptr<const Policy> b);

  // The record fields and claims the rule names, each once, in first-use
  // order.
  const std::vector<std::string>& fields() const { return fields_; }
  const std::vector<std::string>& claims() const { return claims_; }

  // The rule's fields of `record` (a JSON object; anything else has none).
  void Extract(const rapidjson::Value& record, Row* row) const;
  // The rule with a principal's claims filled in. `claims`: the token's
  // claims object, or null for an anonymous request.
  Bound Bind(const rapidjson::Value* claims) const;
  // Parses `claims_json` (a JSON object; "" = anonymous) and binds.
  Bound Bind(std::string_view claims_json) const;
  Bound Bind(const Principal& who) const;

  // The rule in a canonical form: fully parenthesized, strings in double
  // quotes. Parse(ToString()) gives the same rule.
  std::string ToString() const;

 private:
  friend class Bound;
  friend class Parser;
  // A node is a comparison (kEq/kNe over two operands) or a connective over
  // two nodes.
  struct Operand {
    enum class Kind : uint8_t { kField, kClaim, kLiteral } kind = Kind::kLiteral;
    uint32_t index = 0;  // into fields_, claims_ or literals_
  };
  struct Node {
    enum class Op : uint8_t { kEq, kNe, kAnd, kOr } op = Op::kEq;
    Operand a, b;                  // comparisons
    uint32_t left = 0, right = 0;  // connectives: node indexes
  };
  static void Merge(const Policy& from, Policy* into, uint32_t* root);
  void Print(uint32_t node, std::string* out) const;
  void PrintOperand(const Operand& o, std::string* out) const;

  std::vector<Node> nodes_;
  uint32_t root_ = 0;
  std::vector<std::string> fields_, claims_;
  std::vector<Value> literals_;
};

// A policy bound to one principal: copyable, cheap to evaluate.
class Bound {
 public:
  Bound() = default;
  // No policy: allows everything.
  bool empty() const { return policy_ == nullptr; }
  // True when the rule admits the record whose fields are `row` (from the
  // same policy's Extract).
  bool Allows(const Row& row) const;
  // Extracts `record`'s fields (into *scratch) and judges them.
  bool AllowsRecord(const rapidjson::Value& record, Row* scratch) const;
  const Policy* policy() const { return policy_.get(); }
  // The same rule bound to another principal (empty stays empty).
  Bound Rebind(const Principal& who) const { return policy_ ? policy_->Bind(who) : Bound(); }

 private:
  friend class Policy;
  bool Eval(uint32_t node, const Row& row) const;
  const Value& Resolve(const Policy::Operand& o, const Row& row) const;

  std::shared_ptr<const Policy> policy_;
  std::vector<Value> claims_;  // in policy_->claims() order
};

inline Bound Policy::Bind(const Principal& who) const { return Bind(who.claims_json); }

}  // namespace eventide::policy

#endif  // EVENTIDE_SRC_POLICY_POLICY_H_
