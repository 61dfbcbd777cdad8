output "resource_group_name" {
  description = "The resource group holding everything the module created (delete it to delete everything)."
  value       = azurerm_resource_group.rg.name
}

output "kubernetes_cluster_name" {
  description = "The AKS cluster's name."
  value       = azurerm_kubernetes_cluster.k8s.name
}

output "kube_config" {
  description = "kubeconfig of the cluster (credentials: cnibench writes it to a 0600 file outside the results)."
  value       = azurerm_kubernetes_cluster.k8s.kube_config_raw
  sensitive   = true
}
