#include "src/rest/service.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "src/common/json_shape.h"
#include "src/common/json_text.h"
#include "src/common/time.h"
#include "src/common/utf8.h"
#include "src/common/uuid.h"
#include "src/event/event.h"
#include "src/rest/write_keys.h"
#include "src/schema/validate.h"

namespace eventide::rest {
namespace {

// A list answers at most this many records when the client does not say;
// clients page with ?after=.
constexpr size_t kDefaultListLimit = 100;
constexpr size_t kMaxListLimit = 1000;

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

void SetMember(rapidjson::Document* doc, const std::string& name, rapidjson::Value value) {
  auto& a = doc->GetAllocator();
  auto it = doc->FindMember(name.c_str());
  if (it != doc->MemberEnd()) {
    it->value = std::move(value);
  } else {
    doc->AddMember(rapidjson::Value(name.c_str(), a), std::move(value), a);
  }
}

// The id value to store in the record's primary-key field: the URL gives
// text; an Int key is stored as a number.
rapidjson::Value IdValue(const schema::Field& pk, const std::string& id,
                         rapidjson::Document::AllocatorType& a) {
  if (pk.type.scalar == schema::Scalar::kInt) {
    int64_t n = 0;
    std::from_chars(id.data(), id.data() + id.size(), n);
    return rapidjson::Value(n);
  }
  return rapidjson::Value(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), a);
}

// Does the record's field equal the query text? Strings compare as text,
// numbers numerically, booleans and null by their JSON spelling.
bool FieldEquals(const rapidjson::Value& v, const std::string& want) {
  if (v.IsString()) return want == std::string_view(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return want == (v.GetBool() ? "true" : "false");
  if (v.IsNull()) return want == "null";
  if (v.IsInt64()) {
    int64_t n;
    auto [p, ec] = std::from_chars(want.data(), want.data() + want.size(), n);
    return ec == std::errc() && p == want.data() + want.size() && n == v.GetInt64();
  }
  if (v.IsNumber()) {
    char* end = nullptr;
    double d = std::strtod(want.c_str(), &end);
    return end != want.c_str() && *end == '\0' && d == v.GetDouble();
  }
  return false;  // lists and objects are not filterable by equality
}

// Does `rule`, bound to `who`, admit the record `json`?
bool Visible(const policy::Policy& rule, const policy::Principal& who, std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return false;
  policy::Row row;
  return rule.Bind(who).AllowsRecord(d, &row);
}

}  // namespace

Service::Service(eventlog::EventLog* log, projection::Projection* projection,
                 const config::Limits& limits, SessionLookup sessions)
    : log_(log), projection_(projection), limits_(limits), sessions_(std::move(sessions)) {
  limits_.field_bytes = limits_.FieldBytes();
}

void Service::AddCors(const config::App& app, const http::Request& request,
                      std::vector<http::Header>* headers) {
  if (app.cors.origins.empty()) return;
  const std::string* origin = request.FindHeader("origin");
  if (origin == nullptr) return;
  bool any =
      std::find(app.cors.origins.begin(), app.cors.origins.end(), "*") != app.cors.origins.end();
  bool listed = std::find(app.cors.origins.begin(), app.cors.origins.end(), *origin) !=
                app.cors.origins.end();
  if (!any && !listed) return;
  headers->push_back({"access-control-allow-origin", any ? "*" : *origin});
  headers->push_back({"access-control-expose-headers", "Event-Position, Event-Durability, ETag"});
  if (!any) headers->push_back({"vary", "Origin"});
}

void Service::Error(http::Responder* s, uint64_t slot, const config::App& app,
                    const http::Request& req, int status, std::string_view code,
                    std::string_view message, std::string_view field) {
  ++stats_.rejected_by_code[std::string(code)];
  http::ResponseHead head;
  head.status = status;
  head.headers.push_back({"content-type", "application/json"});
  AddCors(app, req, &head.headers);
  if (status == 503) head.headers.push_back({"retry-after", "1"});
  s->Respond(slot, head, http::ErrorBody(code, message, field));
}

// What OPTIONS and a 405 name as a table's and a record's methods.
constexpr std::string_view kTableMethods = "GET, HEAD, POST, OPTIONS";
constexpr std::string_view kRecordMethods = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";

void Service::MethodNotAllowed(http::Responder* s, uint64_t slot, const config::App& app,
                               const http::Request& req, std::string_view allow,
                               std::string_view message) {
  ++stats_.rejected_by_code["method_not_allowed"];
  http::ResponseHead head = http::MethodNotAllowedHead(allow);
  AddCors(app, req, &head.headers);
  s->Respond(slot, head, http::ErrorBody("method_not_allowed", message));
}

void Service::Handle(http::Responder* s, uint64_t slot, http::Request& req, const config::App& app,
                     const schema::Table& table, const std::vector<std::string>& segments,
                     const policy::Principal& who) {
  const std::string& m = req.method;
  if (m == "OPTIONS") {
    http::ResponseHead head;
    head.status = 204;
    AddCors(app, req, &head.headers);
    head.headers.push_back(
        {"allow", std::string(segments.size() == 2 ? kTableMethods : kRecordMethods)});
    head.headers.push_back({"access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE"});
    head.headers.push_back({"access-control-allow-headers", "Content-Type, Authorization"});
    s->Respond(slot, head, "");
    return;
  }
  // No record can have a longer id, so none is looked up or written.
  if (segments.size() == 3 && IdTooLong(s, slot, app, req, segments[2])) return;
  if (segments.size() == 2) {
    if (m == "GET" || m == "HEAD") return List(s, slot, req, app, table, who);
    if (m == "POST") return Write(s, slot, req, app, table, segments, who);
    return MethodNotAllowed(s, slot, app, req, kTableMethods,
                            m + " is not allowed on a table; use GET or POST");
  }
  if (m == "GET" || m == "HEAD") return GetOne(s, slot, req, app, table, segments[2], who);
  if (m == "PUT" || m == "PATCH" || m == "DELETE") {
    return Write(s, slot, req, app, table, segments, who);
  }
  MethodNotAllowed(s, slot, app, req, kRecordMethods,
                   m + " is not allowed on a record; use GET, PUT, PATCH or DELETE");
}

void Service::List(http::Responder* s, uint64_t slot, const http::Request& req,
                   const config::App& app, const schema::Table& table,
                   const policy::Principal& who) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!http::ParseQuery(req.query, &params)) {
    return Error(s, slot, app, req, 400, "bad_query", "the query string has a bad %-escape");
  }
  size_t limit = kDefaultListLimit;
  std::string after;
  std::vector<std::pair<std::string, std::string>> filters;
  for (auto& [k, v] : params) {
    if (k == "limit") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n == 0 || n > kMaxListLimit) {
        return Error(s, slot, app, req, 400, "bad_parameter",
                     "limit must be an integer from 1 to " + std::to_string(kMaxListLimit),
                     "limit");
      }
      limit = n;
    } else if (k == "after") {
      after = v;
    } else if (k == "stream" || k == "retained" || k == "lastEventId" || k == "token") {
      // Real-time and auth parameters; not filters.
    } else {
      if (table.FindField(k) == nullptr) {
        return Error(
            s, slot, app, req, 400, "unknown_field",
            "cannot filter on '" + k + "': table " + table.export_name + " has no such field", k);
      }
      filters.emplace_back(k, v);
    }
  }
  std::vector<projection::RecordPtr> records;
  if (const projection::Table* t = projection_->Find(app.app_id, table.name)) {
    std::function<bool(const projection::Record&)> keep;
    // The read rule, bound to this reader once; each record is parsed once
    // for it and the filters together.
    const policy::Bound rule = table.read_rule ? table.read_rule->Bind(who) : policy::Bound();
    policy::Row row;
    if (!filters.empty() || !rule.empty()) {
      keep = [&filters, &rule, &row](const projection::Record& r) {
        rapidjson::Document d;
        std::string_view j = r.json();
        d.Parse(j.data(), j.size());
        if (d.HasParseError() || !d.IsObject()) return false;
        if (!rule.AllowsRecord(d, &row)) return false;
        for (auto& [k, v] : filters) {
          auto it = d.FindMember(k.c_str());
          if (it == d.MemberEnd() ? v != "null" : !FieldEquals(it->value, v)) return false;
        }
        return true;
      };
    }
    t->List(after, limit, keep, &records);
  }
  std::string body;
  size_t total = 2;
  for (auto& r : records) total += r->json().size() + 1;
  body.reserve(total);
  body.push_back('[');
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) body.push_back(',');
    body.append(records[i]->json());
  }
  body.push_back(']');
  http::ResponseHead head;
  head.headers.push_back({"content-type", "application/json"});
  AddCors(app, req, &head.headers);
  head.headers.push_back({"event-position", std::to_string(projection_->applied().value())});
  if (req.method == "HEAD") head.content_length = static_cast<int64_t>(body.size());
  s->Respond(slot, head, req.method == "HEAD" ? std::string_view() : std::string_view(body));
}

void Service::GetOne(http::Responder* s, uint64_t slot, const http::Request& req,
                     const config::App& app, const schema::Table& table, const std::string& id,
                     const policy::Principal& who) {
  const projection::Table* t = projection_->Find(app.app_id, table.name);
  projection::RecordPtr r = t ? t->Get(id) : nullptr;
  // A record the reader may not see is not there for them.
  if (r && table.read_rule && !Visible(*table.read_rule, who, r->json())) r = nullptr;
  if (!r) {
    return Error(s, slot, app, req, 404, "not_found",
                 "no record '" + id + "' in table " + table.export_name);
  }
  http::ResponseHead head;
  head.headers.push_back({"content-type", "application/json"});
  AddCors(app, req, &head.headers);
  std::string pos = std::to_string(r->position().value());
  head.headers.push_back({"etag", "\"" + pos + "\""});
  head.headers.push_back({"event-position", pos});
  if (req.method == "HEAD") head.content_length = static_cast<int64_t>(r->json().size());
  s->Respond(slot, head, req.method == "HEAD" ? std::string_view() : r->json());
}

bool Service::Current(const config::App& app, const schema::Table& table, const std::string& id,
                      std::string* json) const {
  auto it = overlay_.find(OverlayKey(app.app_id, table.name, id));
  if (it != overlay_.end()) {
    if (it->second.deleted) return false;
    *json = it->second.json;
    return true;
  }
  const projection::Table* t = projection_->Find(app.app_id, table.name);
  projection::RecordPtr r = t ? t->Get(id) : nullptr;
  if (!r) return false;
  json->assign(r->json());
  return true;
}

uint64_t Service::LastPosition(const config::App& app, const schema::Table& table,
                               const std::string& id) const {
  auto it = overlay_.find(OverlayKey(app.app_id, table.name, id));
  if (it != overlay_.end()) return it->second.position.value();
  const projection::Table* t = projection_->Find(app.app_id, table.name);
  projection::RecordPtr r = t ? t->Get(id) : nullptr;
  // A deleted record is gone from the projection; the position of its
  // delete is learnt from the conflict it causes (the hint).
  return r ? r->position().value() : redo_hint_;
}

bool Service::Tenant(const config::App& app, const policy::Principal& who,
                     rapidjson::Document* out) {
  out->SetNull();
  if (app.tenant_claim.empty()) return true;
  if (who.anonymous()) return false;
  rapidjson::Document claims;
  claims.Parse(who.claims_json.data(), who.claims_json.size());
  if (claims.HasParseError() || !claims.IsObject()) return false;
  auto it = claims.FindMember(app.tenant_claim.c_str());
  if (it == claims.MemberEnd() || !(it->value.IsString() || it->value.IsNumber())) return false;
  out->CopyFrom(it->value, out->GetAllocator());
  return true;
}

void Service::Write(http::Responder* s, uint64_t slot, http::Request& req, const config::App& app,
                    const schema::Table& table, const std::vector<std::string>& segments,
                    const policy::Principal& who) {
  if (!failed_.ok()) {
    return Error(s, slot, app, req, 503, "storage_unavailable",
                 "the log cannot take writes: " + failed_.message());
  }
  // Tenant apps stamp every record with its writer's tenant (SPEC section 8).
  rapidjson::Document tenant;
  if (!Tenant(app, who, &tenant)) {
    return Error(s, slot, app, req, 403, "policy_denied",
                 "writes to app " + app.app_id + " need a token with a '" + app.tenant_claim +
                     "' claim (its tenant_claim), a string or a number");
  }
  const std::string tenant_text = tenant.IsNull() ? std::string() : Serialize(tenant);
  const policy::Bound write_rule = table.write_rule ? table.write_rule->Bind(who) : policy::Bound();
  const bool read_ruled = table.read_rule != nullptr;
  policy::Row row;
  const std::string& m = req.method;
  const schema::Field& pk = table.fields[table.primary_key];
  const int64_t now_ms = WallMillis();
  std::string existing;
  bool exists = false;     // PUT/PATCH: the record is there (durable or accepted)
  std::string created_at;  // its stored __createdAt__

  if (m == "DELETE") {
    const std::string& id = segments[2];
    if (!Current(app, table, id, &existing) ||
        (read_ruled && !Visible(*table.read_rule, who, existing))) {
      return Error(s, slot, app, req, 404, "not_found",
                   "no record '" + id + "' in table " + table.export_name);
    }
    if (!write_rule.empty() && !Visible(*table.write_rule, who, existing)) {
      return Error(
          s, slot, app, req, 403, "policy_denied",
          "the write rule of table " + table.export_name + " does not let you delete '" + id + "'");
    }
    return Append(s, slot, app, req, table, static_cast<int>(event::Op::kDelete), id,
                  std::move(existing), 200, who, tenant_text, {}, &segments);
  }

  if (const std::string* ct = req.FindHeader("content-type")) {
    std::string_view v(*ct);
    if (v.substr(0, 16) != "application/json" && v.find("+json") == std::string_view::npos) {
      return Error(s, slot, app, req, 415, "unsupported_media_type",
                   "the body must be JSON (Content-Type: application/json), not " + *ct);
    }
  }
  // Documents over the reused buffers; they grow with malloc only for bodies
  // beyond the buffer. The allocators outlive the documents (declared first).
  rapidjson::MemoryPoolAllocator<> body_alloc(parse_buffer_.get(), kParseBufferBytes);
  rapidjson::MemoryPoolAllocator<> merge_alloc(merge_buffer_.get(), kParseBufferBytes);
  rapidjson::Document body(&body_alloc);
  // invalid_json, or invalid_utf8: what is stored and sent is UTF-8 only.
  if (JsonInputResult parsed = ParseJsonInput(req.body, &body, "the body", limits_.json_depth);
      !parsed.ok()) {
    return Error(s, slot, app, req, 400, parsed.code(), parsed.message);
  }
  if (!body.IsObject()) {
    return Error(s, slot, app, req, 400, "validation_failed", "the body must be a JSON object");
  }
  // The record being written: the body, or for PATCH the stored record with
  // the body's fields merged in.
  rapidjson::Document merged(&merge_alloc);
  rapidjson::Document* out = &body;
  const schema::WriteMode mode = m == "POST"  ? schema::WriteMode::kCreate
                                 : m == "PUT" ? schema::WriteMode::kReplace
                                              : schema::WriteMode::kMerge;
  if (auto v = schema::Validate(table, body, mode)) {
    return Error(s, slot, app, req, 400, "validation_failed", v->message, v->field);
  }

  std::string id;
  auto pk_it = body.FindMember(pk.name.c_str());
  bool body_has_id = pk_it != body.MemberEnd() && !pk_it->value.IsNull();
  if (m == "POST") {
    if (body_has_id) {
      if (!schema::RecordIdText(pk_it->value, &id)) {
        return Error(
            s, slot, app, req, 400, "validation_failed",
            "field '" + pk.name + "' must be a non-empty string without '/' or NUL, or an integer",
            pk.name);
      }
      if (IdTooLong(s, slot, app, req, id)) return;
    } else if (pk.type.scalar == schema::Scalar::kInt) {
      return Error(s, slot, app, req, 400, "validation_failed",
                   "field '" + pk.name + "' is required: an Int key is not generated", pk.name);
    } else {
      id = NewUuidV4();
      SetMember(&body, pk.name, IdValue(pk, id, body.GetAllocator()));
    }
    if (Current(app, table, id, &existing)) {
      return Error(s, slot, app, req, 409, "conflict",
                   "record '" + id + "' already exists in table " + table.export_name +
                       "; use PUT to replace it",
                   pk.name);
    }
  } else {
    id = segments[2];
    if (body_has_id) {
      std::string body_id;
      if (!schema::RecordIdText(pk_it->value, &body_id) || body_id != id) {
        return Error(s, slot, app, req, 400, "id_mismatch",
                     "field '" + pk.name + "' in the body does not match the id in the URL",
                     pk.name);
      }
    }
    if (pk.type.scalar == schema::Scalar::kInt) {
      int64_t n;
      auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
      if (ec != std::errc() || p != id.data() + id.size()) {
        return Error(s, slot, app, req, 400, "validation_failed",
                     "the id in the URL must be an integer for table " + table.export_name,
                     pk.name);
      }
    }
    exists = Current(app, table, id, &existing);
    // One the writer may not see is absent to a PATCH; a PUT may not take
    // it over either.
    const bool hidden = exists && read_ruled && !Visible(*table.read_rule, who, existing);
    if ((!exists || hidden) && m == "PATCH") {
      return Error(s, slot, app, req, 404, "not_found",
                   "no record '" + id + "' in table " + table.export_name);
    }
    if (exists && (hidden || (!write_rule.empty() && !Visible(*table.write_rule, who, existing)))) {
      return Error(
          s, slot, app, req, 403, "policy_denied",
          "the write rule of table " + table.export_name + " does not let you change '" + id + "'");
    }
    if (exists) {
      // The stored record, parsed once: PATCH merges into it, and a replace
      // or merge keeps its creation time.
      merged.Parse(existing.data(), existing.size());
      if (merged.HasParseError() || !merged.IsObject()) {
        return Error(s, slot, app, req, 500, "internal",
                     "the stored record could not be read back");
      }
      auto c = merged.FindMember("__createdAt__");
      if (c != merged.MemberEnd() && c->value.IsString()) {
        created_at.assign(c->value.GetString(), c->value.GetStringLength());
      }
    }
    if (m == "PATCH") {
      for (auto& member : body.GetObject()) {
        SetMember(&merged, std::string(member.name.GetString(), member.name.GetStringLength()),
                  rapidjson::Value(member.value, merged.GetAllocator()));
      }
      out = &merged;
    }
    SetMember(out, pk.name, IdValue(pk, id, out->GetAllocator()));
  }
  // Server-set timestamps: a new record gets now for both; a replaced or
  // merged one keeps its stored creation time (now if it had none).
  char now[32];
  const auto now_len = static_cast<rapidjson::SizeType>(FormatIso8601Millis(now_ms, now));
  if (table.FindField("__createdAt__") != nullptr) {
    if (created_at.empty()) {
      SetMember(out, "__createdAt__", rapidjson::Value(now, now_len, out->GetAllocator()));
    } else {
      SetMember(
          out, "__createdAt__",
          rapidjson::Value(created_at.data(), static_cast<rapidjson::SizeType>(created_at.size()),
                           out->GetAllocator()));
    }
  }
  if (table.FindField("__updatedAt__") != nullptr) {
    SetMember(out, "__updatedAt__", rapidjson::Value(now, now_len, out->GetAllocator()));
  }
  if (!tenant.IsNull()) {
    SetMember(out, std::string(config::kTenantField),
              rapidjson::Value(tenant, out->GetAllocator()));
  }
  // The record as written must be one the writer may write.
  if (!write_rule.empty() && !write_rule.AllowsRecord(*out, &row)) {
    return Error(s, slot, app, req, 403, "policy_denied",
                 "the write rule of table " + table.export_name + " does not allow this record");
  }
  const bool replace_or_merge = m != "POST" && exists;
  // An update on a table with a read rule logs the state before it, so that
  // a subscriber reading the log can be told the record left its view.
  const bool log_prev = replace_or_merge && !table.policy_read.empty();
  // Judged as it will be logged: a PATCH on its merged result, with the
  // server's timestamps and tenant in.
  std::string record = Serialize(*out);
  if (OverLimit(s, slot, app, req, record, "the record")) return;
  Append(s, slot, app, req, table,
         static_cast<int>(replace_or_merge ? event::Op::kUpdate : event::Op::kCreate), id,
         std::move(record), replace_or_merge ? 200 : 201, who, tenant_text,
         log_prev ? std::string_view(existing) : std::string_view(), &segments);
}

void Service::Publish(http::Responder* r, uint64_t slot, const http::Request& req,
                      const config::App& app, const schema::Table& table, const std::string& id,
                      std::string data_json, const policy::Principal& who) {
  if (!failed_.ok()) {
    return Error(r, slot, app, req, 503, "storage_unavailable",
                 "the log cannot take writes: " + failed_.message());
  }
  std::string tenant_text;
  if (table.read_rule || table.write_rule) {
    // Under rules a message is judged like a record (docs/POLICIES.md): it
    // must be an object, it is stamped with its writer's tenant, and it must
    // pass the write rule.
    rapidjson::Document tenant;
    if (!Tenant(app, who, &tenant)) {
      return Error(r, slot, app, req, 403, "policy_denied",
                   "publishes to app " + app.app_id + " need a token with a '" + app.tenant_claim +
                       "' claim (its tenant_claim)");
    }
    rapidjson::Document msg;
    msg.Parse(data_json.data(), data_json.size());
    if (msg.HasParseError() || !msg.IsObject()) {
      return Error(r, slot, app, req, 400, "validation_failed",
                   "a publish to table " + table.export_name +
                       ", which has a @policy or tenants, must be a JSON object");
    }
    if (!tenant.IsNull()) {
      SetMember(&msg, std::string(config::kTenantField),
                rapidjson::Value(tenant, msg.GetAllocator()));
      tenant_text = Serialize(tenant);
      data_json = Serialize(msg);
    }
    policy::Row row;
    if (table.write_rule && !table.write_rule->Bind(who).AllowsRecord(msg, &row)) {
      return Error(r, slot, app, req, 403, "policy_denied",
                   "the write rule of table " + table.export_name + " does not allow this message");
    }
  }
  if (!id.empty() && IdTooLong(r, slot, app, req, id)) return;
  if (OverLimit(r, slot, app, req, data_json, "the message")) return;
  Append(r, slot, app, req, table, static_cast<int>(event::Op::kPublish), id, std::move(data_json),
         200, who, tenant_text);
}

bool Service::IdTooLong(http::Responder* s, uint64_t slot, const config::App& app,
                        const http::Request& req, const std::string& id) {
  if (id.size() <= limits_.id_bytes) return false;
  Error(s, slot, app, req, 400, "id_too_long",
        "the id is " + std::to_string(id.size()) + " bytes; limits.id_bytes is " +
            std::to_string(limits_.id_bytes));
  return true;
}

bool Service::OverLimit(http::Responder* s, uint64_t slot, const config::App& app,
                        const http::Request& req, std::string_view json, std::string_view what) {
  const std::string w(what);
  if (json.size() > limits_.record_bytes) {
    Error(s, slot, app, req, 413, "record_too_large",
          w + " is " + std::to_string(json.size()) + " bytes as stored; limits.record_bytes is " +
              std::to_string(limits_.record_bytes));
    return true;
  }
  const JsonShape shape = ScanJsonShape(json, limits_.json_depth, limits_.field_bytes);
  if (shape.too_deep(limits_.json_depth)) {
    Error(s, slot, app, req, 400, kJsonTooDeepCode,
          w + " nests arrays and objects deeper than " + std::to_string(limits_.json_depth) +
              " levels (limits.json_depth)");
    return true;
  }
  if (shape.members > limits_.fields) {
    Error(s, slot, app, req, 400, "too_many_fields",
          w + " has " + std::to_string(shape.members) +
              " fields (object members, counted at every depth); limits.fields is " +
              std::to_string(limits_.fields));
    return true;
  }
  if (shape.has_big_field()) {
    const std::string name(shape.big_field);
    Error(s, slot, app, req, 413, "field_too_large",
          "field '" + name + "' of " + w + " is " + std::to_string(shape.big_field_bytes) +
              " bytes of JSON; limits.field_bytes is " + std::to_string(limits_.field_bytes),
          name);
    return true;
  }
  return false;
}

}  // namespace eventide::rest
