package kafka

import (
	"context"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"
)

// TopicConfig returns the values of the named configs of topic (for instance
// retention.ms), as the broker reports them, defaults included.
func (c *Client) TopicConfig(ctx context.Context, topic string, names ...string) (map[string]string, error) {
	out := map[string]string{}
	err := c.withClient(ctx, func(kc *kafkago.Client) error {
		res, err := kc.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic, ConfigNames: names},
		}})
		if err != nil {
			return err
		}
		for _, r := range res.Resources {
			if r.Error != nil {
				return r.Error
			}
			for _, e := range r.ConfigEntries {
				out[e.ConfigName] = e.ConfigValue
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	return out, nil
}
