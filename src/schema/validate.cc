#include "src/schema/validate.h"

namespace eventide::schema {
namespace {

const char* JsonKind(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return v.IsInt64() || v.IsUint64() ? "integer" : "number";
  }
  return "?";
}

bool ScalarMatches(Scalar s, const rapidjson::Value& v) {
  switch (s) {
    case Scalar::kID:
      return v.IsString() || v.IsInt64();
    case Scalar::kString:
      return v.IsString();
    case Scalar::kInt:
      return v.IsInt64();
    case Scalar::kFloat:
      return v.IsNumber();
    case Scalar::kBoolean:
      return v.IsBool();
    case Scalar::kJSON:
      return true;
  }
  return false;
}

std::string TypeName(const FieldType& t) {
  std::string s(ScalarName(t.scalar));
  if (t.list) s = "[" + s + (t.item_required ? "!" : "") + "]";
  return s;
}

std::optional<Violation> CheckValue(const Field& f, const rapidjson::Value& v) {
  if (v.IsNull()) {
    if (f.type.required)
      return Violation{f.name, "field '" + f.name + "' is required and cannot be null"};
    return std::nullopt;
  }
  if (f.type.scalar == Scalar::kJSON && !f.type.list) return std::nullopt;
  if (f.type.list) {
    if (!v.IsArray()) {
      return Violation{f.name, "field '" + f.name + "' must be a list " + TypeName(f.type) +
                                   ", got " + JsonKind(v)};
    }
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      const rapidjson::Value& item = v[i];
      if (item.IsNull()) {
        if (f.type.item_required) {
          return Violation{f.name,
                           "field '" + f.name + "' item " + std::to_string(i) + " cannot be null"};
        }
        continue;
      }
      if (!ScalarMatches(f.type.scalar, item)) {
        return Violation{f.name, "field '" + f.name + "' item " + std::to_string(i) + " must be " +
                                     std::string(ScalarName(f.type.scalar)) + ", got " +
                                     JsonKind(item)};
      }
    }
    return std::nullopt;
  }
  if (!ScalarMatches(f.type.scalar, v)) {
    return Violation{f.name, "field '" + f.name + "' must be " +
                                 std::string(ScalarName(f.type.scalar)) + ", got " + JsonKind(v)};
  }
  if (f.type.scalar == Scalar::kID && v.IsString() && v.GetStringLength() == 0) {
    return Violation{f.name, "field '" + f.name + "' must not be empty"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Violation> Validate(const Table& table, const rapidjson::Value& body,
                                  WriteMode mode) {
  if (!body.IsObject()) return Violation{"", "the body must be a JSON object"};
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const Field* f = table.FindField(name);
    if (f == nullptr) {
      return Violation{std::string(name),
                       "unknown field '" + std::string(name) + "' for table " + table.export_name};
    }
    if (f->server_set) continue;
    if (auto v = CheckValue(*f, it->value)) return v;
  }
  if (mode == WriteMode::kMerge) return std::nullopt;
  for (size_t i = 0; i < table.fields.size(); ++i) {
    const Field& f = table.fields[i];
    if (!f.type.required || f.server_set) continue;
    if (i == table.primary_key) continue;  // generated (create) or from the URL (replace)
    if (!body.HasMember(f.name.c_str())) {
      return Violation{f.name, "field '" + f.name + "' is required"};
    }
  }
  return std::nullopt;
}

bool RecordIdText(const rapidjson::Value& v, std::string* out) {
  if (v.IsString()) {
    out->assign(v.GetString(), v.GetStringLength());
    return !out->empty() && out->find_first_of(std::string_view("/\0", 2)) == std::string::npos;
  }
  if (v.IsInt64()) {
    *out = std::to_string(v.GetInt64());
    return true;
  }
  if (v.IsUint64()) {
    *out = std::to_string(v.GetUint64());
    return true;
  }
  return false;
}

}  // namespace eventide::schema
