/** Every Bull queue of the service. */
export enum QueueName {
  Operations = 'operations',
  Watches = 'watches',
}
