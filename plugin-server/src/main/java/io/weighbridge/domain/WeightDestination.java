package io.weighbridge.domain;

/**
 * One of Argo's additionalDestinations: a weighted experiment Service.
 *
 * @param serviceName the Service that receives the traffic
 * @param podTemplateHash the rollouts-pod-template-hash of its pods
 * @param weight the share, in units of maxTrafficWeight
 */
public record WeightDestination(String serviceName, String podTemplateHash, int weight) {}
