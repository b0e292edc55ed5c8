{{/*
Names, labels, the image reference and the RBAC rules: the clever parts of the chart, so templates stay thin.
*/}}

{{- define "analytics.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "analytics.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "analytics.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels naming this release's objects of this chart. */}}
{{- define "analytics.instanceLabels" -}}
app.kubernetes.io/name: {{ include "analytics.name" . | toJson }}
app.kubernetes.io/instance: {{ .Release.Name | toJson }}
{{- end -}}

{{/* Labels that select the operator pod: never change between releases (Deployment selectors are immutable). */}}
{{- define "analytics.selectorLabels" -}}
{{ include "analytics.instanceLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels of the metrics Service, which the ServiceMonitor selects. */}}
{{- define "analytics.metricsServiceSelectorLabels" -}}
{{ include "analytics.instanceLabels" . }}
app.kubernetes.io/component: operator-metrics
{{- end -}}

{{/* Labels of every object: the standard ones, then commonLabels (which may not override them). */}}
{{- define "analytics.labels" -}}
{{- $standard := dict
    "helm.sh/chart" (include "analytics.chart" .)
    "app.kubernetes.io/name" (include "analytics.name" .)
    "app.kubernetes.io/instance" .Release.Name
    "app.kubernetes.io/version" (.Chart.AppVersion | replace "+" "_" | trunc 63)
    "app.kubernetes.io/managed-by" .Release.Service
    "app.kubernetes.io/part-of" "georchestra" -}}
{{- merge $standard (deepCopy .Values.commonLabels) | toYaml -}}
{{- end -}}

{{/*
The `annotations:` block of an object's metadata, from a dict {"root": $, "own": <the object's annotations>}:
commonAnnotations, overridden by the object's own. Empty when there are none.
*/}}
{{- define "analytics.annotations" -}}
{{- $merged := merge (deepCopy (default (dict) .own)) (deepCopy .root.Values.commonAnnotations) -}}
{{- if $merged -}}
annotations:
{{- toYaml $merged | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "analytics.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "analytics.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository:tag[@digest]; global.imageRegistry wins over image.registry. */}}
{{- define "analytics.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- $reference := printf "%s:%s" .Values.image.repository $tag -}}
{{- if $registry -}}
{{- $reference = printf "%s/%s" $registry $reference -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- $reference = printf "%s@%s" $reference .Values.image.digest -}}
{{- end -}}
{{- $reference -}}
{{- end -}}

{{/* Global and chart pull secrets, without duplicates, as a list of LocalObjectReference. */}}
{{- define "analytics.imagePullSecrets" -}}
{{- $names := concat .Values.global.imagePullSecrets .Values.imagePullSecrets | uniq -}}
{{- if $names -}}
imagePullSecrets:
{{- range $names }}
  - name: {{ . | toJson }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The stack's namespace, checked against watchNamespaces so a stack nobody watches is refused early. */}}
{{- define "analytics.stackNamespace" -}}
{{- $namespace := default .Release.Namespace .Values.stack.namespace -}}
{{- if and .Values.watchNamespaces (not (has $namespace .Values.watchNamespaces)) -}}
{{- fail (printf "stack.namespace %q is not watched: add it to watchNamespaces %v, or leave watchNamespaces empty" $namespace .Values.watchNamespaces) -}}
{{- end -}}
{{- $namespace -}}
{{- end -}}

{{/*
The operator's permissions in a namespace where it reconciles AnalyticsStacks: the contract written down in
docs/operator-rbac.md (one table row per rule). Shared by the ClusterRole and the per-namespace Roles, so both
modes grant exactly the same rights. No wildcards: a test fails on any.
*/}}
{{- define "analytics.stackRules" -}}
{{- /* Exactly what the operator and kopf call (docs/operator-rbac.md; tests/helm/test_rbac_contract.py derives
the same rules from the calls). Every write is a server-side apply (PATCH, which needs create for an object
that does not exist yet) or a DELETE: no update. */ -}}
- apiGroups: ["analytics.georchestra.org"]
  resources: ["analyticsstacks"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["analytics.georchestra.org"]
  resources: ["analyticsstacks/status"]
  verbs: ["patch"]
- apiGroups: ["analytics.georchestra.org"]
  resources: ["analyticsstacks/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs", "cronjobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
