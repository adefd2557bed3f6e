"""Minimal JSON Schemas for the custom resources the optional components use.

The bundled Kubernetes schemas only know core kinds; KEDA and Strimzi kinds are checked
against these instead: the fields StoreSight sets, their types, and no unknown fields
at the levels written here (a typo such as ``lagTreshold`` fails). They are not the
operators' full CRDs.
"""

from __future__ import annotations

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _resource(api_version: str, kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


def _strict(required: list[str], properties: dict) -> dict:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


_INT = {"type": "integer", "minimum": 0}
_RESOURCES = {"type": "object", "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}},
              "additionalProperties": False}

SCALED_OBJECT = _resource("keda.sh/v1alpha1", "ScaledObject", _strict(["scaleTargetRef", "triggers"], {
    "scaleTargetRef": _strict(["name"], {"name": {"type": "string"}, "kind": {"type": "string"},
                                         "apiVersion": {"type": "string"}}),
    "minReplicaCount": _INT, "maxReplicaCount": _INT, "pollingInterval": _INT, "cooldownPeriod": _INT,
    "triggers": {"type": "array", "minItems": 1, "items": _strict(["type", "metadata"], {
        "type": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    })},
}))

# Fields of the kafka trigger (KEDA docs, scalers/apache-kafka); all values are strings.
KAFKA_TRIGGER_FIELDS = {"bootstrapServers", "bootstrapServersFromEnv", "consumerGroup", "consumerGroupFromEnv",
                        "topic", "topicFromEnv", "lagThreshold", "activationLagThreshold", "offsetResetPolicy",
                        "allowIdleConsumers", "scaleToZeroOnInvalidOffset", "excludePersistentLag",
                        "limitToPartitionsWithLag", "partitionLimitation", "version", "sasl", "tls"}

KAFKA_NODE_POOL = _resource("kafka.strimzi.io/v1beta2", "KafkaNodePool", _strict(["replicas", "roles", "storage"], {
    "replicas": {"type": "integer", "minimum": 1},
    "roles": {"type": "array", "items": {"enum": ["controller", "broker"]}, "minItems": 1},
    "storage": _strict(["type"], {"type": {"enum": ["ephemeral", "persistent-claim", "jbod"]},
                                  "size": {"type": "string"}, "class": {"type": "string"},
                                  "deleteClaim": {"type": "boolean"}, "volumes": {"type": "array"}}),
    "resources": _RESOURCES,
}))

KAFKA = _resource("kafka.strimzi.io/v1beta2", "Kafka", _strict(["kafka"], {
    "kafka": _strict(["listeners"], {
        "version": {"type": "string"},
        "metadataVersion": {"type": "string"},
        "listeners": {"type": "array", "minItems": 1, "items": _strict(["name", "port", "type", "tls"], {
            "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
            "port": {"type": "integer", "minimum": 9092},
            "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
            "tls": {"type": "boolean"},
            "authentication": _strict(["type"], {"type": {"enum": ["tls", "scram-sha-512", "oauth", "custom"]}}),
            "configuration": {"type": "object"},
        })},
        "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
        "authorization": _strict(["type"], {"type": {"enum": ["simple", "opa", "keycloak", "custom"]},
                                            "superUsers": {"type": "array", "items": {"type": "string"}}}),
        "rack": {"type": "object"},
    }),
    "entityOperator": _strict([], {"topicOperator": {"type": "object"}, "userOperator": {"type": "object"}}),
    "cruiseControl": {"type": "object"},
}))

KAFKA_TOPIC = _resource("kafka.strimzi.io/v1beta2", "KafkaTopic", _strict(["partitions", "replicas"], {
    "topicName": {"type": "string"},
    "partitions": {"type": "integer", "minimum": 1},
    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
    "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
}))

_ACL = _strict(["resource", "operations"], {
    "resource": _strict(["type"], {"type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                                   "name": {"type": "string"}, "patternType": {"enum": ["literal", "prefix"]}}),
    "operations": {"type": "array", "minItems": 1, "items": {"enum": [
        "Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs",
        "DescribeConfigs", "IdempotentWrite", "All"]}},
    "host": {"type": "string"},
    "type": {"enum": ["allow", "deny"]},
})

KAFKA_USER = _resource("kafka.strimzi.io/v1beta2", "KafkaUser", _strict(["authentication", "authorization"], {
    "authentication": _strict(["type"], {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]},
                                         "password": {"type": "object"}}),
    "authorization": _strict(["type", "acls"], {"type": {"const": "simple"},
                                                "acls": {"type": "array", "items": _ACL}}),
    "quotas": {"type": "object"},
}))

# (apiVersion, kind) -> schema
SCHEMAS: dict[tuple[str, str], dict] = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): KAFKA_NODE_POOL,
    ("kafka.strimzi.io/v1beta2", "Kafka"): KAFKA,
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): KAFKA_TOPIC,
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): KAFKA_USER,
}
