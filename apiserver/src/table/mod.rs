//! `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
//! the columns `kubectl get` prints, computed by the server as
//! kube-apiserver's printers compute them. Columns of priority 1 show only
//! with `-o wide`.

mod age;
mod core;
mod workloads;

use serde_json::{json, Value};

pub use age::human_duration;

use crate::registry::Resource;

/// One column: name, OpenAPI type, priority (0 always shown, 1 wide only).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
}

const fn col(name: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 0,
    }
}

const fn wide(name: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 1,
    }
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        kind: "integer",
        priority: 0,
    }
}

/// A kind's printer: its columns and the cells of one object, given the
/// current time in seconds since the epoch.
pub struct Printer {
    pub columns: &'static [Column],
    pub cells: fn(&Value, i64) -> Vec<Value>,
}

/// Whether an `Accept` header asks for a Table (any of the versions kubectl
/// lists first).
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        let params: Vec<&str> = first.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// The `Table` of `objects`, as served by `resource`. `include_object` is
/// the `includeObject` parameter (`None`, `Metadata` default, `Object`).
pub fn table(
    resource: &Resource,
    objects: &[Value],
    list_metadata: Value,
    include_object: Option<&str>,
) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let printer = printer(resource.kind);
    let columns: Vec<Value> = printer
        .columns
        .iter()
        .map(|c| {
            let mut def = json!({
                "name": c.name,
                "type": c.kind,
                "format": if c.name == "Name" { "name" } else { "" },
                "description": "",
                "priority": c.priority,
            });
            if c.name == "Name" {
                def["description"] = json!("Name must be unique within a namespace.");
            }
            def
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": (printer.cells)(o, now),
                "object": row_object(o, include_object),
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn row_object(object: &Value, include: Option<&str>) -> Value {
    match include {
        Some("None") => Value::Null,
        Some("Object") => object.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

fn printer(kind: &str) -> &'static Printer {
    workloads::printer(kind)
        .or_else(|| core::printer(kind))
        .unwrap_or(&DEFAULT)
}

/// Kinds without their own printer: NAME and AGE, as for custom resources.
static DEFAULT: Printer = Printer {
    columns: &[col("Name"), col("Age")],
    cells: |o, now| vec![name(o), age(o, now)],
};

/// `metadata.name` as a cell.
fn name(o: &Value) -> Value {
    json!(str_at(o, "/metadata/name"))
}

/// The AGE cell: time since `metadata.creationTimestamp`.
fn age(o: &Value, now: i64) -> Value {
    json!(since(str_at(o, "/metadata/creationTimestamp"), now))
}

/// Time since an RFC 3339 timestamp, as kubectl prints it; `<unknown>` when
/// absent or unreadable.
fn since(timestamp: &str, now: i64) -> String {
    match timestamp.parse::<jiff::Timestamp>() {
        Ok(t) => human_duration(now - t.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

fn str_at<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn array_at<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `"<none>"` for an empty cell, as kubectl prints one.
fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

/// A label selector map as `k=v,k2=v2`, sorted.
fn selector_string(o: &Value, pointer: &str) -> String {
    let Some(map) = o.pointer(pointer).and_then(Value::as_object) else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn kubectls_accept_header_asks_for_a_table() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
        assert!(!wants_table("application/json, */*"));
    }

    #[test]
    fn a_table_has_kubectls_columns_and_metadata_rows() {
        let pods = registry::find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5",
                "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}});
        let t = table(pods, &[pod], json!({"resourceVersion": "5"}), None);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        let row = &t["rows"][0];
        assert_eq!(row["cells"][0], "p");
        assert_eq!(row["cells"][1], "1/1");
        assert_eq!(row["cells"][2], "Running");
        assert_eq!(row["cells"][5], "10.0.0.5");
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["metadata"]["namespace"], "default");
        assert_eq!(t["metadata"]["resourceVersion"], "5");
    }
}
