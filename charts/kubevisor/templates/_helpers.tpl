{{- define "kubevisor.labels" -}}
app.kubernetes.io/name: kubevisor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubevisor.selectorLabels" -}}
app.kubernetes.io/name: kubevisor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubevisor.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "kubevisor.operatorName" -}}
{{ .Release.Name }}-operator
{{- end -}}

{{- define "kubevisor.apiserverName" -}}
{{ .Release.Name }}-apiserver
{{- end -}}
