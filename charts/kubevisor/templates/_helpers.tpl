{{/* The chart's name, or nameOverride: the app.kubernetes.io/name label. */}}
{{- define "kubevisor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name: fullnameOverride, else the release name (when it already
says the chart's name, as `kubevisor` does), else `<release>-<name>`.
*/}}
{{- define "kubevisor.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "kubevisor.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object; `component` is set by each template (operator, apiserver, rbac, crd, test). */}}
{{- define "kubevisor.labels" -}}
app.kubernetes.io/name: {{ include "kubevisor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubevisor
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* kubevisor.labels plus a component: (dict "ctx" $ "component" "operator"). */}}
{{- define "kubevisor.componentLabels" -}}
{{ include "kubevisor.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The operator pods: Deployment selector, Services, PDB and topology spread. */}}
{{- define "kubevisor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubevisor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* image.tag defaults to the chart's appVersion: a chart version always runs its own code. */}}
{{- define "kubevisor.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kubevisor.operatorName" -}}
{{ include "kubevisor.fullname" . }}-operator
{{- end -}}

{{- define "kubevisor.apiserverName" -}}
{{ include "kubevisor.fullname" . }}-apiserver
{{- end -}}

{{/* imagePullSecrets as the comma-separated names the operator's KUBEVISOR_IMAGE_PULL_SECRETS takes. */}}
{{- define "kubevisor.pullSecretNames" -}}
{{- $names := list -}}
{{- range .Values.imagePullSecrets -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- join "," $names -}}
{{- end -}}
