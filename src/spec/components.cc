#include "spec/components.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "json/json_mapper.h"
#include "recovery/secret.h"
#include "spec/mapper_section.h"
#if RECOVERY_WITH_HTTP
#include "aws/sqs.h"
#include "http/http_source.h"
#include "spec/http_section.h"
#include "spec/sqs_section.h"
#endif
#if RECOVERY_WITH_POSTGRES
#include "recovery/postgres.h"
#endif
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr char kDefaultStateDir[] = "recovery-state";

// Parses a section and hands it to `build`, which reads it through a SpecObject.
template <typename T, typename Build>
absl::StatusOr<std::unique_ptr<T>> WithSection(const ComponentSpec& section, std::string_view name,
                                               SpecErrors* errors, Build build) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(section.json.data(), section.json.size()).get(root)) {
    errors->Add(name, StrCat("invalid JSON: ", simdjson::error_message(err)));
    return absl::InvalidArgumentError("unparseable section");
  }
  SpecObject o(root, std::string(name), errors);
  o.String("type");
  absl::StatusOr<std::unique_ptr<T>> built = build(o);
  o.Finish();
  return built;
}

#if RECOVERY_WITH_POSTGRES
// "dsn" in the section, or the variable "dsn_env" names, or the file
// "dsn_file" names (keeps a password out of the job file); exactly one of
// them. Resolved only when `resolve` is set (creating, not parsing).
std::string ReadDsn(SpecObject& o, bool resolve) {
  SecretRef ref;
  ref.value = o.String("dsn").value_or("");
  ref.env = o.String("dsn_env").value_or("");
  ref.file = o.String("dsn_file").value_or("");
  if (!ref.value.empty() + !ref.env.empty() + !ref.file.empty() != 1) {
    o.errors()->Add(o.PathOf("dsn"),
                    "expected exactly one of \"dsn\" (a libpq connection string), \"dsn_env\" (the "
                    "environment variable holding one) or \"dsn_file\" (a file holding one)");
    return "";
  }
  if (!resolve) return "";
  absl::StatusOr<std::string> dsn = ResolveSecret(ref);
  if (!dsn.ok()) {
    o.errors()->Add(o.PathOf(!ref.env.empty()    ? "dsn_env"
                             : !ref.file.empty() ? "dsn_file"
                                                 : "dsn"),
                    ToStd(dsn.status().message()));
    return "";
  }
  return *std::move(dsn);
}
#endif

// A type the job-spec language knows but this build of the library left out.
template <typename T>
absl::StatusOr<std::unique_ptr<T>> NotBuilt(SpecObject& o, std::string_view type, std::string_view option) {
  o.SkipUnread();
  o.errors()->Add(o.PathOf("type"),
                  StrCat("\"", type, "\" is not in this build of the library (built with ", option, "=OFF)"));
  return absl::InvalidArgumentError("not built");
}

void UnknownType(SpecObject& o, std::string_view type, std::string_view known) {
  o.errors()->Add(o.PathOf("type"), StrCat("unknown type \"", type, "\" (known: ", known, ")"));
}

// Each *From reads a section and checks it. With `resolve` it also builds the
// component (reading the secrets it needs); without, it reads nothing outside
// the job spec and returns null.
absl::StatusOr<std::unique_ptr<Source>> SourceFrom(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  return WithSection<Source>(
      spec.source, "source", errors, [&](SpecObject& o) -> absl::StatusOr<std::unique_ptr<Source>> {
        if (spec.source.type == "jsonl_file") {
          JsonlFileSourceOptions options;
          options.path = ResolvePath(spec.base_dir, o.String("path", true).value_or(""));
          options.batch_size =
              static_cast<int>(o.Int("batch_size", false, 1, 1000000).value_or(options.batch_size));
          options.max_record_bytes =
              o.Int("max_record_bytes", false, 1024, int64_t{1} << 30).value_or(options.max_record_bytes);
          if (!errors->empty()) return absl::InvalidArgumentError("invalid source");
          return NewJsonlFileSource(std::move(options));
        }
#if RECOVERY_WITH_HTTP
        if (spec.source.type == "http") {
          HttpSourceOptions options = ReadHttpSource(o, spec);
          if (!resolve) return std::unique_ptr<Source>();
          std::unique_ptr<Source> source = BuildHttpSource(options, o.path(), errors);
          if (source == nullptr) return absl::InvalidArgumentError("invalid source");
          return source;
        }
        if (spec.source.type == "sqs") {
          SqsSourceOptions options = ReadSqsSource(o);
          if (!resolve) return std::unique_ptr<Source>();
          std::unique_ptr<Source> source = BuildSqsSource(options, o.path(), ProcessEnv, errors);
          if (source == nullptr) return absl::InvalidArgumentError("invalid source");
          return source;
        }
#else
        if (spec.source.type == "http" || spec.source.type == "sqs") {
          return NotBuilt<Source>(o, spec.source.type, "RECOVERY_WITH_HTTP");
        }
#endif
        UnknownType(o, spec.source.type, "http, jsonl_file, sqs");
        return absl::InvalidArgumentError("invalid source");
      });
}

absl::StatusOr<std::unique_ptr<Mapper>> MapperFrom(const JobSpec& spec, SpecErrors* errors) {
  return WithSection<Mapper>(spec.mapper, "mapper", errors,
                             [&](SpecObject& o) -> absl::StatusOr<std::unique_ptr<Mapper>> {
                               if (spec.mapper.type == "json") {
                                 const JsonMapperOptions options = ReadJsonMapper(o);
                                 std::unique_ptr<Mapper> mapper = BuildJsonMapper(options, o.path(), errors);
                                 if (mapper == nullptr) return absl::InvalidArgumentError("invalid mapper");
                                 return mapper;
                               }
                               UnknownType(o, spec.mapper.type, "json");
                               return absl::InvalidArgumentError("invalid mapper");
                             });
}

absl::StatusOr<std::unique_ptr<Sink>> SqsSinkFrom(SpecObject& o, SpecErrors* errors, bool resolve) {
#if RECOVERY_WITH_HTTP
  SqsSinkOptions options = ReadSqsSink(o);
  if (!resolve) return std::unique_ptr<Sink>();
  std::unique_ptr<Sink> sink = BuildSqsSink(options, o.path(), ProcessEnv, errors);
  if (sink == nullptr) return absl::InvalidArgumentError("invalid sink");
  return sink;
#else
  return NotBuilt<Sink>(o, "sqs", "RECOVERY_WITH_HTTP");
#endif
}

#if RECOVERY_WITH_POSTGRES
// The database of PostgreSQL checkpoints: (dsn, schema), resolved, or
// nullopt for another store or a section with errors (reported by its own).
std::optional<std::pair<std::string, std::string>> CheckpointDatabase(const JobSpec& spec) {
  if (spec.checkpoint.type != "postgres") return std::nullopt;
  SpecErrors ignored;
  std::optional<std::pair<std::string, std::string>> found;
  (void)WithSection<CheckpointStore>(spec.checkpoint, "checkpoint", &ignored, [&](SpecObject& o) {
    std::string dsn = ReadDsn(o, /*resolve=*/true);
    if (ignored.empty()) found.emplace(std::move(dsn), o.String("schema").value_or("public"));
    return absl::StatusOr<std::unique_ptr<CheckpointStore>>(std::unique_ptr<CheckpointStore>());
  });
  return found;
}
#endif

absl::StatusOr<std::unique_ptr<Sink>> PostgresSinkFrom(const JobSpec& spec, SpecObject& o, SpecErrors* errors,
                                                       bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresSinkOptions options;
  options.dsn = ReadDsn(o, resolve);
  options.table = o.String("table", true).value_or("");
  for (auto& [name, from] : o.StringMap("columns")) options.columns.push_back({name, from});
  if (!o.Has("columns")) o.errors()->Add(o.PathOf("columns"), "required but missing");
  if (auto a = o.Array("conflict_columns")) {
    for (simdjson::dom::element e : *a) {
      std::string_view name;
      if (e.get_string().get(name) != simdjson::SUCCESS) {
        o.errors()->Add(o.PathOf("conflict_columns"), "expected an array of column names");
        break;
      }
      options.conflict_columns.emplace_back(name);
    }
  }
  options.on_conflict =
      static_cast<PostgresConflict>(o.Enum("on_conflict", false, {"nothing", "update", "newer"}).value_or(0));
  options.version_column = o.String("version").value_or("");
  options.rows_per_statement =
      static_cast<int>(o.Int("rows_per_statement", false, 1, 10000).value_or(options.rows_per_statement));
  options.copy_min_rows =
      static_cast<int>(o.Int("copy_min_rows", false, 0, 1000000000).value_or(options.copy_min_rows));
  options.connect_timeout =
      o.Duration("connect_timeout", false, absl::Seconds(1)).value_or(options.connect_timeout);
  options.statement_timeout =
      o.Duration("statement_timeout", false, absl::Seconds(1)).value_or(options.statement_timeout);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid sink");
  if (!resolve) return std::unique_ptr<Sink>();
  // Checkpoints in the same database: writes under a lease are fenced.
  if (auto db = CheckpointDatabase(spec); db && db->first == options.dsn) options.fence_schema = db->second;
  return NewPostgresSink(std::move(options));
#else
  (void)spec;
  return NotBuilt<Sink>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

absl::StatusOr<std::unique_ptr<Sink>> SinkFrom(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  return WithSection<
      Sink>(spec.sink, "sink", errors, [&](SpecObject& o) -> absl::StatusOr<std::unique_ptr<Sink>> {
    const std::string& type = spec.sink.type;
    if (type == "jsonl_file") {
      JsonlFileSinkOptions options;
      options.path = ResolvePath(spec.base_dir, o.String("path", true).value_or(""));
      options.format = static_cast<JsonlFormat>(o.Enum("format", false, {"payload", "envelope"}).value_or(0));
      options.overwrite = o.Bool("overwrite").value_or(false);
      options.fsync = o.Bool("fsync").value_or(true);
      options.append = o.Bool("append").value_or(false);
      options.max_indexed_keys =
          o.Int("max_indexed_keys", false, 1, INT64_MAX).value_or(options.max_indexed_keys);
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
    if (type == "null") return NewNullSink();
    if (type == "sqs") return SqsSinkFrom(o, errors, resolve);
    if (type == "postgres") return PostgresSinkFrom(spec, o, errors, resolve);
    if (type == "callback") {
      return absl::InvalidArgumentError(
          "sink.type: \"callback\" is supplied in code (Components.sink, or the C/Python callback)");
    }
    UnknownType(o, type, "jsonl_file, null, postgres, sqs, callback");
    return absl::InvalidArgumentError("invalid sink");
  });
}

std::string StateDir(const JobSpec& spec, SpecObject* o) {
  std::string dir = o ? o->String("dir", true).value_or("") : kDefaultStateDir;
  return ResolvePath(spec.base_dir, dir);
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> PostgresFrom(SpecObject& o, SpecErrors* errors,
                                                              bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresCheckpointOptions options;
  options.dsn = ReadDsn(o, resolve);
  options.schema = o.String("schema").value_or(options.schema);
  options.lease = o.Duration("lease", false, absl::Seconds(1)).value_or(options.lease);
  options.owner = o.String("owner").value_or("");
  options.connect_timeout =
      o.Duration("connect_timeout", false, absl::Seconds(1)).value_or(options.connect_timeout);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid checkpoint");
  if (!resolve) return std::unique_ptr<CheckpointStore>();
  return NewPostgresCheckpointStore(std::move(options));
#else
  return NotBuilt<CheckpointStore>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointsFrom(const JobSpec& spec, SpecErrors* errors,
                                                                 bool resolve) {
  if (!spec.checkpoint.present()) return NewFileCheckpointStore(StateDir(spec, nullptr));
  return WithSection<CheckpointStore>(spec.checkpoint, "checkpoint", errors,
                                      [&](SpecObject& o) -> absl::StatusOr<std::unique_ptr<CheckpointStore>> {
                                        if (spec.checkpoint.type == "file") {
                                          std::string dir = StateDir(spec, &o);
                                          if (!errors->empty())
                                            return absl::InvalidArgumentError("invalid checkpoint");
                                          return NewFileCheckpointStore(dir);
                                        }
                                        if (spec.checkpoint.type == "memory")
                                          return NewMemoryCheckpointStore();
                                        if (spec.checkpoint.type == "postgres")
                                          return PostgresFrom(o, errors, resolve);
                                        UnknownType(o, spec.checkpoint.type, "file, memory, postgres");
                                        return absl::InvalidArgumentError("invalid checkpoint");
                                      });
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> PostgresDeadLettersFrom(SpecObject& o, SpecErrors* errors,
                                                                         bool resolve) {
#if RECOVERY_WITH_POSTGRES
  PostgresDeadLetterOptions options;
  options.dsn = ReadDsn(o, resolve);
  options.schema = o.String("schema").value_or(options.schema);
  if (!errors->empty()) return absl::InvalidArgumentError("invalid dead_letters");
  if (!resolve) return std::unique_ptr<DeadLetterStore>();
  return NewPostgresDeadLetterStore(std::move(options));
#else
  return NotBuilt<DeadLetterStore>(o, "postgres", "RECOVERY_WITH_POSTGRES");
#endif
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> DeadLettersFrom(const JobSpec& spec, SpecErrors* errors,
                                                                 bool resolve) {
  if (!spec.dead_letters.present()) {
    if (spec.checkpoint.type == "memory") return NewMemoryDeadLetterStore();
    if (spec.checkpoint.type == "postgres") {  // beside the checkpoints, shared by every worker
      SpecErrors ignored;                      // the checkpoint section reports its own errors
      return WithSection<DeadLetterStore>(spec.checkpoint, "checkpoint", &ignored, [&](SpecObject& o) {
        o.Duration("lease", false, absl::Seconds(1));
        o.String("owner");
        o.Duration("connect_timeout", false, absl::Seconds(1));
        return PostgresDeadLettersFrom(o, &ignored, resolve);
      });
    }
    std::string dir = kDefaultStateDir;
    if (spec.checkpoint.present()) {
      SpecErrors ignored;  // the checkpoint section reports its own errors
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      std::string_view d;
      if (parser.parse(spec.checkpoint.json).get(root) == simdjson::SUCCESS &&
          root["dir"].get_string().get(d) == simdjson::SUCCESS) {
        dir = std::string(d);
      }
    }
    return NewFileDeadLetterStore(
        ResolvePath(spec.base_dir, StrCat(dir, "/", spec.name, "/dead_letters.jsonl")));
  }
  return WithSection<DeadLetterStore>(spec.dead_letters, "dead_letters", errors,
                                      [&](SpecObject& o) -> absl::StatusOr<std::unique_ptr<DeadLetterStore>> {
                                        if (spec.dead_letters.type == "file") {
                                          std::string path =
                                              ResolvePath(spec.base_dir, o.String("path", true).value_or(""));
                                          bool fsync = o.Bool("fsync").value_or(true);
                                          if (!errors->empty())
                                            return absl::InvalidArgumentError("invalid dead_letters");
                                          return NewFileDeadLetterStore(path, fsync);
                                        }
                                        if (spec.dead_letters.type == "postgres") {
                                          return PostgresDeadLettersFrom(o, errors, resolve);
                                        }
                                        UnknownType(o, spec.dead_letters.type, "file, postgres");
                                        return absl::InvalidArgumentError("invalid dead_letters");
                                      });
}

template <typename T>
absl::StatusOr<std::unique_ptr<T>> Finish(absl::StatusOr<std::unique_ptr<T>> built, const SpecErrors& errors,
                                          std::string_view what) {
  if (!errors.empty()) return errors.ToStatus(StrCat("invalid ", what));
  return built;
}

absl::Status Missing(std::string_view section) {
  return absl::InvalidArgumentError(StrCat(section, ": missing from the job spec and not given in code"));
}

}  // namespace

bool SourcePlansOneShard(const JobSpec& spec) { return spec.source.type == "sqs"; }

void CheckComponents(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  if (spec.source.present()) (void)SourceFrom(spec, errors, resolve);
  if (spec.mapper.present()) (void)MapperFrom(spec, errors);
  if (spec.sink.present() && spec.sink.type != "callback") (void)SinkFrom(spec, errors, resolve);
  if (spec.skip_already_present && (spec.sink.type == "null" || spec.sink.type == "sqs")) {
    errors->Add("skip_already_present",
                StrCat("the ", spec.sink.type,
                       " sink cannot tell which records it already holds; use a "
                       "postgres, jsonl_file (envelope) or callback sink, or turn it off"));
  }
  if (spec.checkpoint.present()) (void)CheckpointsFrom(spec, errors, resolve);
  if (spec.dead_letters.present()) (void)DeadLettersFrom(spec, errors, resolve);
}

absl::StatusOr<std::unique_ptr<Source>> BuildSource(const JobSpec& spec) {
  if (!spec.source.present()) return Missing("source");
  SpecErrors errors;
  return Finish(SourceFrom(spec, &errors, true), errors, "source");
}

absl::StatusOr<std::unique_ptr<Mapper>> BuildMapper(const JobSpec& spec) {
  if (!spec.mapper.present()) return Missing("mapper");
  SpecErrors errors;
  return Finish(MapperFrom(spec, &errors), errors, "mapper");
}

absl::StatusOr<std::unique_ptr<Sink>> BuildSink(const JobSpec& spec) {
  if (!spec.sink.present()) return Missing("sink");
  SpecErrors errors;
  return Finish(SinkFrom(spec, &errors, true), errors, "sink");
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> BuildCheckpointStore(const JobSpec& spec) {
  SpecErrors errors;
  return Finish(CheckpointsFrom(spec, &errors, true), errors, "checkpoint");
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> BuildDeadLetterStore(const JobSpec& spec) {
  SpecErrors errors;
  return Finish(DeadLettersFrom(spec, &errors, true), errors, "dead_letters");
}

}  // namespace recovery
