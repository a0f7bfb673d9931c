{{/*
The chart's name, as in the app.kubernetes.io/name label.
*/}}
{{- define "swr-sync-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: the release name, followed by the chart's name unless the
release name contains it. A release named swr-sync-operator gets config/default's names.
*/}}
{{- define "swr-sync-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of a resource: the fullname, a dash and the suffix config/ gives it, cut to 63 characters.
Call it with (list . "suffix").
*/}}
{{- define "swr-sync-operator.resourceName" -}}
{{- $ctx := index . 0 }}
{{- printf "%s-%s" (include "swr-sync-operator.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "swr-sync-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "swr-sync-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the manager's pods; they never change after the install.
*/}}
{{- define "swr-sync-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "swr-sync-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The manager's ServiceAccount.
*/}}
{{- define "swr-sync-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "swr-sync-operator.resourceName" (list . "controller-manager")) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The manager's ServiceAccount as the subject of a binding.
*/}}
{{- define "swr-sync-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "swr-sync-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
The scheme and name of the metrics port.
*/}}
{{- define "swr-sync-operator.metricsPortName" -}}
{{- if .Values.metrics.secure }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Refuses value combinations that would install something that cannot work.
*/}}
{{- define "swr-sync-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount above 1 needs leaderElection.enabled: replicas without it would all poll SWR and write the same tasks" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- if and (gt (float64 .Values.manager.kubeAPIQPS) 0.0) (lt (int .Values.manager.kubeAPIBurst) 1) }}
{{- fail "manager.kubeAPIBurst must be at least 1 with a positive kubeAPIQPS" }}
{{- end }}
{{- end }}
