#include "spec/registry.h"

#include <cstdint>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "json/json_mapper.h"
#include "recovery/secret.h"
#include "spec/mapper_section.h"
#include "spec/secret_section.h"
#if RECOVERY_WITH_HTTP
#include "aws/sqs.h"
#include "http/http_sink.h"
#include "http/http_source.h"
#include "http/paginator.h"
#include "spec/http_section.h"
#include "spec/http_sink_section.h"
#include "spec/sqs_section.h"
#endif
#if RECOVERY_WITH_POSTGRES
#include "recovery/postgres.h"
#endif
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

// A type the job-spec language knows but this build of the library left out.
template <typename T>
absl::StatusOr<std::unique_ptr<T>> NotBuilt(SpecObject& o, std::string_view type, std::string_view option) {
  o.SkipUnread();
  o.errors()->Add(o.PathOf("type"),
                  StrCat("\"", type, "\" is not in this build of the library (built with ", option, "=OFF)"));
  return absl::InvalidArgumentError("not built");
}

// A built component, or the error that says the section was not valid.
template <typename T>
absl::StatusOr<std::unique_ptr<T>> Built(std::unique_ptr<T> built, std::string_view section) {
  if (built == nullptr) return absl::InvalidArgumentError(StrCat("invalid ", section));
  return built;
}

#if RECOVERY_WITH_POSTGRES
// "dsn" in the section, or the variable "dsn_env" names, or the file
// "dsn_file" names (keeps a password out of the job file), or what the
// command "dsn_cmd" prints; exactly one of them. Resolved only when `resolve`
// is set (creating, not parsing).
std::string ReadDsn(SpecObject& o, const JobSpec& spec, bool resolve) {
  const SecretRef ref = ReadSecretSpec(o, "dsn", spec.base_dir);
  if (SecretWays(ref) != 1) {
    o.errors()->Add(o.PathOf("dsn"),
                    "expected exactly one of \"dsn\" (a libpq connection string), \"dsn_env\" (the "
                    "environment variable holding one), \"dsn_file\" (a file holding one) or \"dsn_cmd\" "
                    "(a command printing one)");
    return "";
  }
  if (!resolve) return "";
  absl::StatusOr<std::string> dsn = ResolveSecret(ref);
  if (!dsn.ok()) {
    o.errors()->Add(o.PathOf(!ref.env.empty()       ? "dsn_env"
                             : !ref.file.empty()    ? "dsn_file"
                             : !ref.command.empty() ? "dsn_cmd"
                                                    : "dsn"),
                    ToStd(dsn.status().message()));
    return "";
  }
  return *std::move(dsn);
}

// The database of PostgreSQL checkpoints: (dsn, schema), resolved, or
// nullopt for another store or a section with errors (reported by its own).
std::optional<std::pair<std::string, std::string>> CheckpointDatabase(const JobSpec& spec) {
  if (spec.checkpoint.type != "postgres") return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(spec.checkpoint.json).get(root) != simdjson::SUCCESS) return std::nullopt;
  SpecErrors ignored;
  SpecObject o(root, "checkpoint", &ignored);
  std::string dsn = ReadDsn(o, spec, /*resolve=*/true);
  std::string schema = o.String("schema").value_or("public");
  if (!ignored.empty()) return std::nullopt;
  return std::make_pair(std::move(dsn), std::move(schema));
}
#endif

// ---- sources ----

absl::StatusOr<std::unique_ptr<Source>> JsonlFileSourceFrom(const JobSpec& spec, SpecObject& o,
                                                            SpecErrors* errors, bool /*resolve*/) {
  JsonlFileSourceOptions options;
  options.path = StatePath(spec, o.String("path", true).value_or(""));
  options.batch_size = static_cast<int>(o.Int("batch_size", false, 1, 1000000).value_or(options.batch_size));
  options.max_record_bytes =
      o.Int("max_record_bytes", false, 1024, int64_t{1} << 30).value_or(options.max_record_bytes);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid source");
  return NewJsonlFileSource(std::move(options));
}

absl::StatusOr<std::unique_ptr<Source>> HttpSourceFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                       bool resolve) {
#if RECOVERY_WITH_HTTP
  HttpSourceOptions options = ReadHttpSource(o, spec);
  if (!resolve) return std::unique_ptr<Source>();
#if RECOVERY_WITH_POSTGRES
  // Workers on several hosts share the job: they take turns refreshing.
  if (auto db = CheckpointDatabase(spec); db && options.auth.type == HttpAuthType::kOAuth2 &&
                                          options.auth.oauth2.grant == HttpOAuth2Grant::kRefreshToken) {
    PostgresCheckpointOptions where;
    where.dsn = db->first;
    options.auth.oauth2.hosts_lock = PostgresAdvisoryLocks(std::move(where));
  }
#endif
  return Built(BuildHttpSource(options, o.path(), errors), "source");
#else
  (void)spec, (void)errors, (void)resolve;
  return NotBuilt<Source>(o, "http", "RECOVERY_WITH_HTTP");
#endif
}

// A byte offset into the export, at the start of a line.
absl::StatusOr<std::string> JsonlFileCursorAt(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                              std::string_view position) {
  const std::string path = StatePath(spec, o.String("path", true).value_or(""));
  if (!errors->empty()) return absl::InvalidArgumentError("invalid source");
  int64_t offset = 0;
  if (!absl::SimpleAtoi(ToAbsl(position), &offset) || offset < 0) {
    return absl::InvalidArgumentError(StrCat("a position of a jsonl_file source is a byte offset into ", path,
                                             " (a whole number), got \"", position, "\""));
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(StrCat("cannot open ", path, " to check the position"));
  int before = '\n';
  const bool inside =
      std::fseek(f, 0, SEEK_END) == 0 && std::ftell(f) >= offset &&
      (offset == 0 || (std::fseek(f, offset - 1, SEEK_SET) == 0 && (before = std::fgetc(f)) != EOF));
  std::fclose(f);
  if (!inside)
    return absl::InvalidArgumentError(StrCat("byte offset ", offset, " is past the end of ", path));
  if (before != '\n') {
    return absl::InvalidArgumentError(
        StrCat("byte offset ", offset, " of ", path, " is inside a line; a position starts a line"));
  }
  return StrCat(offset);
}

absl::StatusOr<std::string> HttpCursorAt(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                         std::string_view position) {
#if RECOVERY_WITH_HTTP
  HttpSourceOptions options = ReadHttpSource(o, spec);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid source");
  return CursorAtPosition(options.pagination, position);
#else
  (void)spec, (void)o, (void)errors, (void)position;
  return absl::InvalidArgumentError(
      "\"http\" is not in this build of the library (built with RECOVERY_WITH_HTTP=OFF)");
#endif
}

absl::StatusOr<std::unique_ptr<Source>> SqsSourceFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                      bool resolve) {
  (void)spec;
#if RECOVERY_WITH_HTTP
  SqsSourceOptions options = ReadSqsSource(o, spec.base_dir);
  if (!resolve) return std::unique_ptr<Source>();
  return Built(BuildSqsSource(options, o.path(), ProcessEnv, errors), "source");
#else
  (void)errors, (void)resolve;
  return NotBuilt<Source>(o, "sqs", "RECOVERY_WITH_HTTP");
#endif
}

// ---- mappers ----

absl::StatusOr<std::unique_ptr<Mapper>> JsonMapperFrom(const JobSpec& /*spec*/, SpecObject& o,
                                                       SpecErrors* errors, bool /*resolve*/) {
  const JsonMapperOptions options = ReadJsonMapper(o);
  return Built(BuildJsonMapper(options, o.path(), errors), "mapper");
}

// ---- sinks ----

absl::StatusOr<std::unique_ptr<Sink>> JsonlFileSinkFrom(const JobSpec& spec, SpecObject& o,
                                                        SpecErrors* errors, bool /*resolve*/) {
  JsonlFileSinkOptions options;
  options.path = StatePath(spec, o.String("path", true).value_or(""));
  options.format = static_cast<JsonlFormat>(o.Enum("format", false, {"payload", "envelope"}).value_or(0));
  options.overwrite = o.Bool("overwrite").value_or(false);
  options.fsync = o.Bool("fsync").value_or(true);
  options.append = o.Bool("append").value_or(false);
  options.max_indexed_keys =
      o.Int("max_indexed_keys", false, 1, INT64_MAX).value_or(options.max_indexed_keys);
  options.provenance = o.Bool("provenance").value_or(false);
  if (options.provenance && options.format != JsonlFormat::kEnvelope) {
    errors->Add(o.PathOf("provenance"), "is written into each envelope: set sink.format to \"envelope\"");
  }
  if (spec.skip_already_present && options.format != JsonlFormat::kEnvelope) {
    errors->Add("skip_already_present",
                "the jsonl_file sink answers it from the keys in its lines: set sink.format to "
                "\"envelope\" (payload lines carry no key)");
  }
  if (options.append && options.overwrite) {
    errors->Add(o.PathOf("append"), "contradicts sink.overwrite: keep the file's content or truncate it");
  }
  if (!errors->empty()) return absl::InvalidArgumentError("invalid sink");
  return NewJsonlFileSink(std::move(options));
}

absl::StatusOr<std::unique_ptr<Sink>> NullSinkFrom(const JobSpec& /*spec*/, SpecObject& /*o*/,
                                                   SpecErrors* /*errors*/, bool /*resolve*/) {
  return NewNullSink();
}

absl::StatusOr<std::unique_ptr<Sink>> SqsSinkFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                  bool resolve) {
  (void)spec;
#if RECOVERY_WITH_HTTP
  SqsSinkOptions options = ReadSqsSink(o, spec.base_dir);
  if (!resolve) return std::unique_ptr<Sink>();
  return Built(BuildSqsSink(options, o.path(), ProcessEnv, errors), "sink");
#else
  (void)errors, (void)resolve;
  return NotBuilt<Sink>(o, "sqs", "RECOVERY_WITH_HTTP");
#endif
}

absl::StatusOr<std::unique_ptr<Sink>> HttpSinkFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                   bool resolve) {
#if RECOVERY_WITH_HTTP
  HttpSinkOptions options = ReadHttpSink(o, spec);
  if (!resolve) return std::unique_ptr<Sink>();
  return Built(BuildHttpSink(options, o.path(), errors), "sink");
#else
  (void)spec, (void)errors, (void)resolve;
  return NotBuilt<Sink>(o, "http", "RECOVERY_WITH_HTTP");
#endif
}

#if RECOVERY_WITH_POSTGRES
void ReadPostgresSink(SpecObject& o, PostgresSinkOptions* options) {
  options->table = o.String("table", true).value_or("");
  for (auto& [name, from] : o.StringMap("columns")) options->columns.push_back({name, from});
  if (!o.Has("columns")) o.errors()->Add(o.PathOf("columns"), "required but missing");
  if (auto a = o.Array("conflict_columns")) {
    for (simdjson::dom::element e : *a) {
      std::string_view name;
      if (e.get_string().get(name) != simdjson::SUCCESS) {
        o.errors()->Add(o.PathOf("conflict_columns"), "expected an array of column names");
        break;
      }
      options->conflict_columns.emplace_back(name);
    }
  }
  options->on_conflict =
      static_cast<PostgresConflict>(o.Enum("on_conflict", false, {"nothing", "update", "newer"}).value_or(0));
  options->version_column = o.String("version").value_or("");
  options->rows_per_statement =
      static_cast<int>(o.Int("rows_per_statement", false, 1, 10000).value_or(options->rows_per_statement));
  options->copy_min_rows =
      static_cast<int>(o.Int("copy_min_rows", false, 0, 1000000000).value_or(options->copy_min_rows));
  options->connect_timeout =
      o.Duration("connect_timeout", false, absl::Seconds(1)).value_or(options->connect_timeout);
  options->statement_timeout =
      o.Duration("statement_timeout", false, absl::Seconds(1)).value_or(options->statement_timeout);
}
#endif

absl::StatusOr<std::unique_ptr<Sink>> PostgresSinkFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                       bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresSinkOptions options;
  options.dsn = ReadDsn(o, spec, resolve);
  ReadPostgresSink(o, &options);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid sink");
  if (!resolve) return std::unique_ptr<Sink>();
  // Checkpoints in the same database: writes under a lease are fenced.
  if (auto db = CheckpointDatabase(spec); db && db->first == options.dsn) options.fence_schema = db->second;
  return NewPostgresSink(std::move(options));
#else
  (void)spec, (void)errors, (void)resolve;
  return NotBuilt<Sink>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

// ---- checkpoint stores ----

absl::StatusOr<std::unique_ptr<CheckpointStore>> FileCheckpointsFrom(const JobSpec& spec, SpecObject& o,
                                                                     SpecErrors* errors, bool /*resolve*/) {
  std::string dir = StatePath(spec, o.String("dir", true).value_or(""));
  if (!errors->empty()) return absl::InvalidArgumentError("invalid checkpoint");
  return NewFileCheckpointStore(dir);
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> MemoryCheckpointsFrom(const JobSpec& /*spec*/,
                                                                       SpecObject& /*o*/,
                                                                       SpecErrors* /*errors*/,
                                                                       bool /*resolve*/) {
  return NewMemoryCheckpointStore();
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> PostgresCheckpointsFrom(const JobSpec& spec, SpecObject& o,
                                                                         SpecErrors* errors, bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresCheckpointOptions options;
  options.dsn = ReadDsn(o, spec, resolve);
  options.schema = o.String("schema").value_or(options.schema);
  options.lease = o.Duration("lease", false, absl::Seconds(1)).value_or(options.lease);
  options.owner = o.String("owner").value_or("");
  options.connect_timeout =
      o.Duration("connect_timeout", false, absl::Seconds(1)).value_or(options.connect_timeout);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid checkpoint");
  if (!resolve) return std::unique_ptr<CheckpointStore>();
  return NewPostgresCheckpointStore(std::move(options));
#else
  (void)spec, (void)errors, (void)resolve;
  return NotBuilt<CheckpointStore>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

// ---- dead-letter stores ----

absl::StatusOr<std::unique_ptr<DeadLetterStore>> FileDeadLettersFrom(const JobSpec& spec, SpecObject& o,
                                                                     SpecErrors* errors, bool /*resolve*/) {
  std::string path = StatePath(spec, o.String("path", true).value_or(""));
  bool fsync = o.Bool("fsync").value_or(true);
  bool keep_raw = o.Bool("keep_raw").value_or(true);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid dead_letters");
  return NewFileDeadLetterStore(path, fsync, keep_raw);
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> PostgresDeadLettersFrom(const JobSpec& spec, SpecObject& o,
                                                                         SpecErrors* errors, bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresDeadLetterOptions options;
  options.dsn = ReadDsn(o, spec, resolve);
  options.schema = o.String("schema").value_or(options.schema);
  options.keep_raw = o.Bool("keep_raw").value_or(true);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid dead_letters");
  if (!resolve) return std::unique_ptr<DeadLetterStore>();
  return NewPostgresDeadLetterStore(std::move(options));
#else
  (void)spec, (void)errors, (void)resolve;
  return NotBuilt<DeadLetterStore>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

// ---- the dead letters beside each checkpoint store ----

absl::StatusOr<std::unique_ptr<DeadLetterStore>> FileLettersBeside(const JobSpec& spec, SpecObject& o,
                                                                   SpecErrors* /*errors*/, bool /*resolve*/) {
  const std::string dir = o.String("dir").value_or(kDefaultStateDir);
  return NewFileDeadLetterStore(StatePath(spec, StrCat(dir, "/", spec.name, "/dead_letters.jsonl")));
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> MemoryLettersBeside(const JobSpec& /*spec*/,
                                                                     SpecObject& /*o*/,
                                                                     SpecErrors* /*errors*/,
                                                                     bool /*resolve*/) {
  return NewMemoryDeadLetterStore();
}

// In the checkpoints' schema, shared by every worker.
absl::StatusOr<std::unique_ptr<DeadLetterStore>> PostgresLettersBeside(const JobSpec& spec, SpecObject& o,
                                                                       SpecErrors* errors, bool resolve) {
  return PostgresDeadLettersFrom(spec, o, errors, resolve);
}

constexpr SourceType kSources[] = {
    {"http", HttpSourceFrom, false, true, HttpCursorAt},
    {"jsonl_file", JsonlFileSourceFrom, false, /*partitions_by_shard=*/false, JsonlFileCursorAt},
    {"sqs", SqsSourceFrom, true},
};

constexpr MapperType kMappers[] = {
    {"json", JsonMapperFrom},
};

constexpr SinkType kSinks[] = {
    {"http", HttpSinkFrom, {true, "with a presence endpoint"}, {}, {}},
    {"jsonl_file", JsonlFileSinkFrom, {true, "in its envelope format"}, {true, "in its envelope format"}, {}},
    {"null", NullSinkFrom, {}, {}, {}},
    {"postgres", PostgresSinkFrom, {true, ""}, {true, "with a $event_time column"}, {true, ""}},
    {"sqs", SqsSinkFrom, {}, {}, {}},
    {"callback", nullptr, {true, "with a presence callback"}, {}, {}},
};

constexpr CheckpointStoreType kCheckpointStores[] = {
    {"file", FileCheckpointsFrom, FileLettersBeside, true, true},
    {"memory", MemoryCheckpointsFrom, MemoryLettersBeside, true, false},
    {"postgres", PostgresCheckpointsFrom, PostgresLettersBeside, true, false},
};

constexpr DeadLetterStoreType kDeadLetterStores[] = {
    {"file", FileDeadLettersFrom},
    {"postgres", PostgresDeadLettersFrom},
};

}  // namespace

absl::Span<const SourceType> SourceTypes() { return kSources; }
absl::Span<const MapperType> MapperTypes() { return kMappers; }
absl::Span<const SinkType> SinkTypes() { return kSinks; }
absl::Span<const CheckpointStoreType> CheckpointStoreTypes() { return kCheckpointStores; }
absl::Span<const DeadLetterStoreType> DeadLetterStoreTypes() { return kDeadLetterStores; }

std::string SinkTypesThat(Ability SinkType::*ability) {
  std::vector<std::string> names;
  for (const SinkType& row : kSinks) {
    const Ability& a = row.*ability;
    if (a.offered)
      names.push_back(a.when.empty() ? std::string(row.type) : StrCat(row.type, " (", a.when, ")"));
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string StatePath(const JobSpec& spec, std::string_view path) {
  return ResolvePath(spec.base_dir, std::string(path));
}

}  // namespace recovery
