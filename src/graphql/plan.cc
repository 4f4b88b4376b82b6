#include "src/graphql/plan.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/common/json_text.h"
#include "src/common/utf8.h"

namespace eventide::graphql {

bool Plan::Delivers(const event::Event& e) const {
  if (e.op == event::Op::kPublish) return false;
  if (e.table != table) return false;
  return record_id.empty() || e.id == record_id;
}

const schema::Table* FindRootTable(const schema::Schema& schema, std::string_view field_name) {
  if (const schema::Table* t = schema.FindByExportName(field_name)) return t;
  for (const auto& t : schema.tables) {
    if (t.name.size() != field_name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < field_name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(t.name[i])) ==
             std::tolower(static_cast<unsigned char>(field_name[i]));
    }
    if (same) return &t;
  }
  return nullptr;
}

std::string ErrorsJson(const std::vector<Error>& errors) {
  std::string out = "{\"errors\":[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"message\":";
    AppendJsonString(errors[i].message, &out);
    if (!errors[i].locations.empty()) {
      out += ",\"locations\":[";
      for (size_t j = 0; j < errors[i].locations.size(); ++j) {
        if (j > 0) out.push_back(',');
        out += "{\"line\":" + std::to_string(errors[i].locations[j].line) +
               ",\"column\":" + std::to_string(errors[i].locations[j].column) + "}";
      }
      out += "]";
    }
    out += "}";
  }
  out += "]}";
  return out;
}

namespace {

constexpr std::string_view kSubscription = "Subscription";
// Nesting of a variable's JSON value turned into a Value: the conversion
// recurses, so it is bounded like the parser's.
constexpr int kMaxVariableDepth = 32;

// Chains of fragment spreads (F spreads G spreads H...): Collect recurses
// once per link. 64 is far beyond any real document.
constexpr size_t kMaxFragmentDepth = 64;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsScalarName(std::string_view n) {
  return n == "ID" || n == "String" || n == "Int" || n == "Float" || n == "Boolean" || n == "JSON";
}

// A value printed as GraphQL would (graphql-js print()), for messages.
void PrintValue(const Value& v, std::string* out) {
  switch (v.kind) {
    case Value::Kind::kVariable:
      *out += "$" + v.text;
      break;
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kEnum:
      *out += v.text;
      break;
    case Value::Kind::kString:
      AppendJsonString(v.text, out);
      break;
    case Value::Kind::kBoolean:
      *out += v.boolean ? "true" : "false";
      break;
    case Value::Kind::kNull:
      *out += "null";
      break;
    case Value::Kind::kList:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) *out += ", ";
        PrintValue(v.items[i], out);
      }
      out->push_back(']');
      break;
    case Value::Kind::kObject:
      out->push_back('{');
      for (size_t i = 0; i < v.fields.size(); ++i) {
        if (i > 0) *out += ", ";
        *out += v.fields[i].name + ": ";
        PrintValue(v.fields[i].value, out);
      }
      out->push_back('}');
      break;
  }
}

std::string Printed(const Value& v) {
  std::string s;
  PrintValue(v, &s);
  return s;
}

bool FitsInt32(std::string_view text) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && v >= INT32_MIN &&
         v <= INT32_MAX;
}

// A variable's JSON value as a literal Value (what graphql-js calls
// valueFromAST in reverse), so that literals and variables are checked and
// used alike.
bool FromJson(const rapidjson::Value& j, int depth, Value* out) {
  if (depth > kMaxVariableDepth) return false;
  if (j.IsNull()) {
    out->kind = Value::Kind::kNull;
  } else if (j.IsBool()) {
    out->kind = Value::Kind::kBoolean;
    out->boolean = j.GetBool();
  } else if (j.IsInt64()) {
    out->kind = Value::Kind::kInt;
    out->text = std::to_string(j.GetInt64());
  } else if (j.IsUint64()) {
    out->kind = Value::Kind::kInt;
    out->text = std::to_string(j.GetUint64());
  } else if (j.IsNumber()) {
    out->kind = Value::Kind::kFloat;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    j.Accept(w);
    out->text.assign(sb.GetString(), sb.GetSize());
  } else if (j.IsString()) {
    out->kind = Value::Kind::kString;
    out->text.assign(j.GetString(), j.GetStringLength());
  } else if (j.IsArray()) {
    out->kind = Value::Kind::kList;
    for (const auto& item : j.GetArray()) {
      out->items.emplace_back();
      if (!FromJson(item, depth + 1, &out->items.back())) return false;
    }
  } else {
    out->kind = Value::Kind::kObject;
    for (const auto& m : j.GetObject()) {
      ObjectField f;
      f.name.assign(m.name.GetString(), m.name.GetStringLength());
      if (!FromJson(m.value, depth + 1, &f.value)) return false;
      out->fields.push_back(std::move(f));
    }
  }
  return true;
}

// Whether `v` (no variables in it) is a valid input of type `t`; when not,
// *why says so in graphql-js' words.
bool CheckInput(const TypeRef& t, const Value& v, std::string* why) {
  if (v.kind == Value::Kind::kNull) {
    if (t.non_null) *why = "Expected non-nullable type \"" + t.ToString() + "\" not to be null.";
    return !t.non_null;
  }
  if (t.IsList()) {
    if (v.kind != Value::Kind::kList) return CheckInput(t.of[0], v, why);  // input coercion
    for (const auto& item : v.items) {
      if (!CheckInput(t.of[0], item, why)) return false;
    }
    return true;
  }
  const std::string& n = t.name;
  bool ok = true;
  if (n == "ID") {
    ok = v.kind == Value::Kind::kString || v.kind == Value::Kind::kInt;
    if (!ok) *why = "ID cannot represent a non-string and non-integer value: " + Printed(v);
  } else if (n == "String") {
    ok = v.kind == Value::Kind::kString;
    if (!ok) *why = "String cannot represent a non string value: " + Printed(v);
  } else if (n == "Int") {
    ok = v.kind == Value::Kind::kInt && FitsInt32(v.text);
    if (!ok) *why = "Int cannot represent non-integer or non 32-bit value: " + Printed(v);
  } else if (n == "Float") {
    ok = v.kind == Value::Kind::kInt || v.kind == Value::Kind::kFloat;
    if (!ok) *why = "Float cannot represent non numeric value: " + Printed(v);
  } else if (n == "Boolean") {
    ok = v.kind == Value::Kind::kBoolean;
    if (!ok) *why = "Boolean cannot represent a non boolean value: " + Printed(v);
  }
  return ok;  // JSON takes any value
}

std::string FieldTypeString(const schema::FieldType& t) {
  std::string s(schema::ScalarName(t.scalar));
  if (t.list) s = "[" + s + (t.item_required ? "!" : "") + "]";
  if (t.required) s += "!";
  return s;
}

struct Variable {
  const VariableDefinition* def;
  Value value;  // kNull when neither given nor defaulted
};

// The occurrences of one response key in a selection set, after fragments
// are flattened. `included` per occurrence: @skip/@include let it through.
struct FieldGroup {
  std::string key;
  std::vector<std::pair<const Selection*, bool>> occurrences;
  bool AnyIncluded() const {
    for (const auto& o : occurrences) {
      if (o.second) return true;
    }
    return false;
  }
};

// Named fragments already expanded into one selection set, each with the
// inclusion (@skip/@include) it was expanded under.
using Visited = std::vector<std::pair<const Fragment*, bool>>;

class Compiler {
 public:
  Compiler(const Document& doc, const Operation& op, const schema::Schema& schema,
           const CompileOptions& options, Error* error)
      : doc_(doc), op_(op), schema_(schema), options_(options), error_(error) {}

  bool Run(const rapidjson::Value* variables, Plan* plan) {
    if (op_.type != Operation::Type::kSubscription) {
      return Fail(op_.loc, std::string(op_.shorthand ? "An anonymous query" : "A ") +
                               (op_.shorthand ? "" : OperationTypeName(op_.type)) +
                               (op_.shorthand ? "" : " operation") +
                               " cannot be served here: this endpoint streams subscriptions only; "
                               "send a \"subscription\" operation.");
    }
    if (!CheckDirectives(op_.directives, "SUBSCRIPTION", nullptr)) return false;
    if (!ResolveVariables(variables)) return false;

    std::vector<FieldGroup> roots;
    Visited visited;
    std::vector<const Fragment*> stack;
    for (const auto& s : op_.selection_set) {
      if (!Collect(s, kSubscription, true, &roots, &visited, &stack)) return false;
    }
    std::string who =
        op_.name.empty() ? "Anonymous Subscription" : "Subscription " + Quoted(op_.name);
    const FieldGroup* root = nullptr;
    for (const auto& g : roots) {
      const Selection* first = g.occurrences[0].first;
      if (first->name.rfind("__", 0) == 0) {
        return Fail(first->loc, who + " must not select an introspection top level field.");
      }
      if (!g.AnyIncluded()) continue;
      if (root != nullptr) {
        return Fail(first->loc, who + " must select only one top level field.");
      }
      root = &g;
    }
    // Root fields skipped by @skip/@include are checked like the kept one,
    // selections included: static validation does not depend on variable
    // values, so a skipped field naming no table or column is still an error.
    for (const auto& g : roots) {
      const schema::Table* table = nullptr;
      std::string record_id;
      if (!CheckRootGroup(g, &table, &record_id)) return false;
      std::vector<FieldGroup> fields;
      visited.clear();
      for (const auto& [sel, included] : g.occurrences) {
        for (const auto& s : sel->selection_set) {
          if (!Collect(s, table->name, included, &fields, &visited, &stack)) return false;
        }
      }
      std::vector<PlanField> plan_fields;
      for (const auto& f : fields) {
        PlanField pf;
        if (!CheckLeafGroup(*table, f, &pf)) return false;
        if (f.AnyIncluded()) plan_fields.push_back(std::move(pf));
      }
      if (&g != root) continue;
      plan->table = table->name;
      plan->root_key = root->key;
      plan->record_id = std::move(record_id);
      plan->operation_name = op_.name;
      plan->fields = std::move(plan_fields);
    }
    if (root == nullptr) {
      return Fail(op_.selection_set[0].loc,
                  who +
                      " must select exactly one top level field: every one is skipped by "
                      "@skip or @include.");
    }
    plan->key = "[";
    AppendJsonString(plan->table, &plan->key);
    plan->key.push_back(',');
    AppendJsonString(plan->root_key, &plan->key);
    for (const auto& f : plan->fields) {
      plan->key += ",[";
      AppendJsonString(f.response_key, &plan->key);
      plan->key.push_back(',');
      AppendJsonString(f.field_name, &plan->key);
      plan->key.push_back(']');
    }
    plan->key.push_back(']');
    return true;
  }

 private:
  bool Fail(Location loc, std::string message) {
    error_->message = std::move(message);
    error_->locations = {loc};
    return false;
  }
  bool Fail2(Location a, Location b, std::string message) {
    error_->message = std::move(message);
    error_->locations = {a, b};
    return false;
  }
  bool FailNoLocation(std::string message) {
    error_->message = std::move(message);
    error_->locations.clear();
    return false;
  }

  // Checks each variable definition and binds its value: the request's, the
  // default, or null.
  bool ResolveVariables(const rapidjson::Value* json) {
    for (const auto& def : op_.variables) {
      for (const auto& v : variables_) {
        if (v.def->name == def.name) {
          return Fail2(v.def->loc, def.loc,
                       "There can be only one variable named \"$" + def.name + "\".");
        }
      }
      const TypeRef* named = &def.type;
      while (named->IsList()) named = &named->of[0];
      if (!IsScalarName(named->name)) {
        bool object_type = named->name == kSubscription || schema_.FindByName(named->name);
        return Fail(def.type.loc, object_type ? "Variable \"$" + def.name +
                                                    "\" cannot be non-input type \"" +
                                                    def.type.ToString() + "\"."
                                              : "Unknown type " + Quoted(named->name) + ".");
      }
      if (!CheckDirectives(def.directives, "VARIABLE_DEFINITION", nullptr)) return false;
      std::string why;
      if (def.has_default && !CheckInput(def.type, def.default_value, &why)) {
        return Fail(def.default_value.loc, why);
      }
      Variable var{&def, Value{}};
      const rapidjson::Value* given = nullptr;
      if (json != nullptr && json->IsObject()) {
        auto it = json->FindMember(
            rapidjson::Value(def.name.data(), static_cast<rapidjson::SizeType>(def.name.size())));
        if (it != json->MemberEnd()) given = &it->value;
      }
      if (given != nullptr) {
        if (!FromJson(*given, 0, &var.value)) {
          return FailNoLocation("Variable \"$" + def.name +
                                "\" got invalid value: nested deeper than " +
                                std::to_string(kMaxVariableDepth) + " levels.");
        }
        if (!CheckInput(def.type, var.value, &why)) {
          // graphql-js: locations of the definition, as here.
          return Fail(def.loc, "Variable \"$" + def.name + "\" got invalid value " +
                                   Printed(var.value) + "; " + why);
        }
      } else if (def.has_default) {
        var.value = def.default_value;
      } else if (def.type.non_null) {
        return Fail(def.loc, "Variable \"$" + def.name + "\" of required type \"" +
                                 def.type.ToString() + "\" was not provided.");
      }
      variables_.push_back(std::move(var));
    }
    return true;
  }

  // The value an argument has once a variable is replaced by its binding;
  // checks that the variable is defined and that its type fits where it is
  // used (`allowed`: the variable types accepted there).
  bool Resolve(const Value& v, std::initializer_list<std::string_view> allowed,
               std::string_view expecting, const Value** out) {
    if (v.kind != Value::Kind::kVariable) {
      *out = &v;
      return true;
    }
    for (const auto& var : variables_) {
      if (var.def->name != v.text) continue;
      const TypeRef& t = var.def->type;
      bool fits = false;
      for (auto a : allowed) fits = fits || (!t.IsList() && t.name == a);
      if (!fits) {
        return Fail2(var.def->loc, v.loc,
                     "Variable \"$" + v.text + "\" of type \"" + t.ToString() +
                         "\" used in position expecting type \"" + std::string(expecting) + "\".");
      }
      *out = &var.value;
      return true;
    }
    std::string msg = "Variable \"$" + v.text + "\" is not defined";
    if (!op_.name.empty()) msg += " by operation " + Quoted(op_.name);
    return Fail2(v.loc, op_.loc, msg + ".");
  }

  // @include(if:) and @skip(if:) are honoured on fields, fragment spreads
  // and inline fragments; every other directive, or those elsewhere, is an
  // error. *include (may be nullptr where nothing can be skipped) is cleared
  // when the node is left out.
  bool CheckDirectives(const std::vector<Directive>& ds, std::string_view location, bool* include) {
    for (size_t i = 0; i < ds.size(); ++i) {
      const Directive& d = ds[i];
      if (d.name != "include" && d.name != "skip") {
        return Fail(d.loc, "Unknown directive \"@" + d.name + "\".");
      }
      if (include == nullptr) {
        return Fail(d.loc, "Directive \"@" + d.name + "\" may not be used on " +
                               std::string(location) + ".");
      }
      for (size_t j = 0; j < i; ++j) {
        if (ds[j].name == d.name) {
          return Fail2(ds[j].loc, d.loc,
                       "The directive \"@" + d.name + "\" can only be used once at this location.");
        }
      }
      const Argument* arg = nullptr;
      for (const auto& a : d.arguments) {
        if (a.name != "if") {
          return Fail(a.loc,
                      "Unknown argument \"" + a.name + "\" on directive \"@" + d.name + "\".");
        }
        if (arg != nullptr) {
          return Fail2(arg->loc, a.loc, "There can be only one argument named \"if\".");
        }
        arg = &a;
      }
      if (arg == nullptr) {
        return Fail(d.loc, "Directive \"@" + d.name +
                               "\" argument \"if\" of type \"Boolean!\" is required, but it was "
                               "not provided.");
      }
      const Value* v = nullptr;
      if (!Resolve(arg->value, {"Boolean"}, "Boolean!", &v)) return false;
      if (v->kind == Value::Kind::kNull) {
        return Fail(arg->value.loc, arg->value.kind == Value::Kind::kVariable
                                        ? "Argument \"if\" of non-null type \"Boolean!\" must not "
                                          "be null."
                                        : "Expected value of type \"Boolean!\", found null.");
      }
      if (v->kind != Value::Kind::kBoolean) {
        return Fail(arg->value.loc, "Boolean cannot represent a non boolean value: " + Printed(*v));
      }
      bool keep = d.name == "include" ? v->boolean : !v->boolean;
      *include = *include && keep;
    }
    return true;
  }

  // A type condition on `parent`: known, composite, and the parent itself
  // (there are no interfaces or unions: each type is only itself).
  bool CheckTypeCondition(std::string_view cond, Location loc, std::string_view parent,
                          const std::string& fragment) {
    if (cond.empty() || cond == parent) return true;
    bool known = cond == kSubscription || schema_.FindByName(cond) != nullptr;
    if (!known && !IsScalarName(cond)) return Fail(loc, "Unknown type " + Quoted(cond) + ".");
    if (!known) {
      return Fail(loc, fragment.empty()
                           ? "Fragment cannot condition on non composite type " + Quoted(cond) + "."
                           : "Fragment " + Quoted(fragment) +
                                 " cannot condition on non composite type " + Quoted(cond) + ".");
    }
    return Fail(loc, (fragment.empty() ? std::string("Fragment") : "Fragment " + Quoted(fragment)) +
                         " cannot be spread here as objects of type " + Quoted(parent) +
                         " can never be of type " + Quoted(cond) + ".");
  }

  // Flattens `s` into *groups by response key, in first-seen order
  // (graphql-js collectFields). A named fragment is expanded once per
  // selection set and inclusion (`visited`): a document that spreads the
  // same fragment many times, or nests spreads of spreads, costs linear
  // work. `stack` holds the fragments being expanded, to refuse cycles.
  bool Collect(const Selection& s, std::string_view parent, bool included,
               std::vector<FieldGroup>* groups, Visited* visited,
               std::vector<const Fragment*>* stack) {
    bool inc = included;
    switch (s.kind) {
      case Selection::Kind::kField: {
        if (!CheckDirectives(s.directives, "FIELD", &inc)) return false;
        for (auto& g : *groups) {
          if (g.key == s.ResponseKey()) {
            g.occurrences.emplace_back(&s, inc);
            return true;
          }
        }
        groups->push_back(FieldGroup{s.ResponseKey(), {{&s, inc}}});
        return true;
      }
      case Selection::Kind::kInlineFragment: {
        if (!CheckDirectives(s.directives, "INLINE_FRAGMENT", &inc)) return false;
        if (!CheckTypeCondition(s.type_condition, s.loc, parent, "")) return false;
        for (const auto& sub : s.selection_set) {
          if (!Collect(sub, parent, inc, groups, visited, stack)) return false;
        }
        return true;
      }
      case Selection::Kind::kFragmentSpread: {
        if (!CheckDirectives(s.directives, "FRAGMENT_SPREAD", &inc)) return false;
        const Fragment* f = nullptr;
        for (const auto& candidate : doc_.fragments) {
          if (candidate.name == s.name) {
            f = &candidate;
            break;
          }
        }
        if (f == nullptr) return Fail(s.loc, "Unknown fragment " + Quoted(s.name) + ".");
        for (const Fragment* open : *stack) {
          if (open == f) {
            return Fail(s.loc, "Cannot spread fragment " + Quoted(s.name) + " within itself.");
          }
        }
        if (stack->size() >= kMaxFragmentDepth) {
          return Fail(s.loc, "Fragment spreads nest deeper than " +
                                 std::to_string(kMaxFragmentDepth) + " levels.");
        }
        for (const auto& [frag, was_included] : *visited) {
          if (frag == f && was_included == inc) return true;
        }
        visited->emplace_back(f, inc);
        if (!CheckTypeCondition(f->type_condition, f->type_condition_loc, parent, f->name)) {
          return false;
        }
        if (!CheckDirectives(f->directives, "FRAGMENT_DEFINITION", nullptr)) return false;
        stack->push_back(f);
        for (const auto& sub : f->selection_set) {
          if (!Collect(sub, parent, inc, groups, visited, stack)) return false;
        }
        stack->pop_back();
        return true;
      }
    }
    return true;
  }

  // The occurrences of a root field: one table, the same `id` argument in
  // each, and a selection of subfields.
  bool CheckRootGroup(const FieldGroup& g, const schema::Table** table, std::string* id) {
    const Selection* first = g.occurrences[0].first;
    bool have_id = false;
    for (const auto& [sel, included] : g.occurrences) {
      if (sel->name != first->name) {
        return Fail2(first->loc, sel->loc,
                     "Fields " + Quoted(g.key) + " conflict because " + Quoted(first->name) +
                         " and " + Quoted(sel->name) +
                         " are different fields. Use different aliases on the fields to fetch "
                         "both if this was intentional.");
      }
      const schema::Table* t = FindRootTable(schema_, sel->name);
      if (t == nullptr) {
        return Fail(sel->loc,
                    "Cannot query field " + Quoted(sel->name) + " on type \"Subscription\".");
      }
      if (options_.require_sse && !t->sse) {
        return Fail(sel->loc, "Subscriptions are not enabled for table " + Quoted(t->name) +
                                  ": its @export does not turn on sse.");
      }
      std::string this_id;
      bool this_has_id = false;
      const Argument* seen = nullptr;
      for (const auto& a : sel->arguments) {
        if (a.name != "id") {
          return Fail(a.loc, "Unknown argument " + Quoted(a.name) + " on field \"Subscription." +
                                 sel->name + "\".");
        }
        if (seen != nullptr)
          return Fail2(seen->loc, a.loc, "There can be only one argument named \"id\".");
        seen = &a;
        const Value* v = nullptr;
        if (!Resolve(a.value, {"ID", "String"}, "ID", &v)) return false;
        if (v->kind == Value::Kind::kString || v->kind == Value::Kind::kInt) {
          this_id = v->text;
          this_has_id = true;
        } else if (v->kind != Value::Kind::kNull) {
          return Fail(a.value.loc,
                      "ID cannot represent a non-string and non-integer value: " + Printed(*v));
        }
      }
      // An empty id would read as "no filter": refuse it rather than follow
      // the whole table by surprise.
      if (this_has_id && this_id.empty()) {
        return Fail(seen->value.loc, "Argument \"id\" must not be an empty string.");
      }
      if (sel == first) {
        have_id = this_has_id;
        *id = this_id;
        *table = t;
      } else if (this_has_id != have_id || this_id != *id) {
        return Fail2(first->loc, sel->loc,
                     "Fields " + Quoted(g.key) +
                         " conflict because they have differing arguments. Use different "
                         "aliases on the fields to fetch both if this was intentional.");
      }
      if (!sel->has_selection_set) {
        return Fail(sel->loc, "Field " + Quoted(sel->name) + " of type " + Quoted(t->name) +
                                  " must have a selection of subfields. Did you mean \"" +
                                  sel->name + " { ... }\"?");
      }
    }
    return true;
  }

  // The occurrences of one key in the table's selection: the same field
  // (a column, or __typename), no arguments, no subfields.
  bool CheckLeafGroup(const schema::Table& table, const FieldGroup& g, PlanField* out) {
    const Selection* first = g.occurrences[0].first;
    for (const auto& [sel, included] : g.occurrences) {
      if (sel->name != first->name) {
        return Fail2(first->loc, sel->loc,
                     "Fields " + Quoted(g.key) + " conflict because " + Quoted(first->name) +
                         " and " + Quoted(sel->name) +
                         " are different fields. Use different aliases on the fields to fetch "
                         "both if this was intentional.");
      }
      std::string type;
      if (sel->name == "__typename") {
        type = "String!";
      } else if (const schema::Field* f = table.FindField(sel->name)) {
        type = FieldTypeString(f->type);
      } else {
        return Fail(sel->loc, "Cannot query field " + Quoted(sel->name) + " on type " +
                                  Quoted(table.name) + ".");
      }
      if (!sel->arguments.empty()) {
        const Argument& a = sel->arguments[0];
        return Fail(a.loc, "Unknown argument " + Quoted(a.name) + " on field \"" + table.name +
                               "." + sel->name + "\".");
      }
      if (sel->has_selection_set) {
        return Fail(sel->selection_set[0].loc, "Field " + Quoted(sel->name) +
                                                   " must not have a selection since type " +
                                                   Quoted(type) + " has no subfields.");
      }
    }
    out->response_key = g.key;
    out->field_name = first->name;
    out->typename_field = first->name == "__typename";
    return true;
  }

  const Document& doc_;
  const Operation& op_;
  const schema::Schema& schema_;
  const CompileOptions& options_;
  Error* error_;
  std::vector<Variable> variables_;
};

}  // namespace

bool Compile(const Document& doc, std::string_view operation_name,
             const rapidjson::Value* variables, const schema::Schema& schema,
             const CompileOptions& options, Plan* plan, Error* error) {
  // Document rules first (spec 5.2.1, 5.5.1.1): they hold whichever
  // operation is chosen.
  for (size_t i = 0; i < doc.operations.size(); ++i) {
    const Operation& op = doc.operations[i];
    if (op.name.empty() && doc.operations.size() > 1) {
      error->message = "This anonymous operation must be the only defined operation.";
      error->locations = {op.loc};
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (!op.name.empty() && doc.operations[j].name == op.name) {
        error->message = "There can be only one operation named \"" + op.name + "\".";
        error->locations = {doc.operations[j].loc, op.loc};
        return false;
      }
    }
  }
  for (size_t i = 0; i < doc.fragments.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (doc.fragments[j].name == doc.fragments[i].name) {
        error->message = "There can be only one fragment named \"" + doc.fragments[i].name + "\".";
        error->locations = {doc.fragments[j].loc, doc.fragments[i].loc};
        return false;
      }
    }
  }
  const Operation* op = nullptr;
  if (!operation_name.empty()) {
    for (const auto& o : doc.operations) {
      if (o.name == operation_name) op = &o;
    }
    if (op == nullptr) {
      error->message = "Unknown operation named \"" + std::string(operation_name) + "\".";
      error->locations.clear();
      return false;
    }
  } else if (doc.operations.size() != 1) {
    error->message = doc.operations.empty()
                         ? "Must provide an operation."
                         : "Must provide operation name if query contains multiple operations.";
    error->locations.clear();
    return false;
  } else {
    op = &doc.operations[0];
  }
  Compiler c(doc, *op, schema, options, error);
  return c.Run(variables, plan);
}

bool CompileRequest(std::string_view body, const schema::Schema& schema,
                    const CompileOptions& options, const ParseLimits& limits, Plan* plan,
                    Error* error) {
  auto fail = [&](std::string message) {
    error->message = std::move(message);
    error->locations.clear();
    return false;
  };
  rapidjson::Document req;
  // UTF-8 checked once here, escapes included (src/common/utf8.h), as for
  // every JSON a client sends.
  if (JsonInputResult parsed = ParseJsonInput(body, &req, "the request body"); !parsed.ok()) {
    return fail(parsed.error == JsonInputError::kEncoding ? "Request body is not valid UTF-8."
                                                          : "Request body is not valid JSON.");
  }
  if (!req.IsObject()) return fail("Request body must be a JSON object.");
  auto query = req.FindMember("query");
  if (query == req.MemberEnd()) return fail("Request body has no \"query\" member.");
  if (!query->value.IsString()) return fail("\"query\" must be a string.");
  std::string_view operation_name;
  auto name = req.FindMember("operationName");
  if (name != req.MemberEnd() && !name->value.IsNull()) {
    if (!name->value.IsString()) return fail("\"operationName\" must be a string or null.");
    operation_name = std::string_view(name->value.GetString(), name->value.GetStringLength());
  }
  const rapidjson::Value* variables = nullptr;
  auto vars = req.FindMember("variables");
  if (vars != req.MemberEnd() && !vars->value.IsNull()) {
    if (!vars->value.IsObject()) return fail("\"variables\" must be an object or null.");
    variables = &vars->value;
  }
  auto ext = req.FindMember("extensions");
  if (ext != req.MemberEnd() && !ext->value.IsNull() && !ext->value.IsObject()) {
    return fail("\"extensions\" must be an object or null.");
  }
  Document doc;
  if (!ParseDocument(std::string_view(query->value.GetString(), query->value.GetStringLength()),
                     limits, &doc, error)) {
    return false;
  }
  return Compile(doc, operation_name, variables, schema, options, plan, error);
}

}  // namespace eventide::graphql
