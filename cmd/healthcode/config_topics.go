package main

// Topic names, part of the shared settings (config.go): a repeatable
// --topic NAME=TOPIC and HEALTHCODE_TOPICS="NAME=TOPIC,NAME=TOPIC". NAME is a
// default topic name without its "hc." prefix (person-events, policy, ...) or
// an upstream topic's default name (src.checkins, ...). The command line
// overrides the variable name by name.

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"healthcode/pipeline"
	"healthcode/sources"
)

const envTopics = "HEALTHCODE_TOPICS"

// internalTopics returns the NAMEs of the pipeline's own topics; each defaults to "hc." + NAME.
func internalTopics() []string {
	return []string{"person-events", "area-risk", "colour-updates", "dead-letter", "scoring-state", "presence", "exposures", "journeys", "policy",
		"overrides", "override-audit"}
}

var topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// topicNames returns every NAME --topic accepts, sorted.
func topicNames() []string {
	names := internalTopics()
	for _, s := range sources.Streams {
		names = append(names, s.DefaultTopic())
	}
	slices.Sort(names)
	return names
}

// topicFlags holds the topic names given, by NAME.
type topicFlags struct {
	names    map[string]string
	fromArgv map[string]bool
	envErr   error
}

func (t *topicFlags) String() string {
	if t == nil {
		return ""
	}
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(t.names)) {
		parts = append(parts, n+"="+t.names[n])
	}
	return strings.Join(parts, ",")
}

// Set takes one NAME=TOPIC from the command line.
func (t *topicFlags) Set(s string) error {
	name, topic, err := parseTopic(s)
	if err != nil {
		return err
	}
	if t.fromArgv[name] {
		return fmt.Errorf("%s given twice", name)
	}
	t.names[name], t.fromArgv[name] = topic, true
	return nil
}

func parseTopic(s string) (name, topic string, err error) {
	name, topic, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return "", "", fmt.Errorf("want NAME=TOPIC, NAME one of %s", strings.Join(topicNames(), ", "))
	}
	if !slices.Contains(topicNames(), name) {
		return "", "", fmt.Errorf("unknown topic name %q: want one of %s", name, strings.Join(topicNames(), ", "))
	}
	if !topicRE.MatchString(topic) {
		return "", "", fmt.Errorf("topic for %s: want 1 to 249 letters, digits, '.', '_' or '-'", name)
	}
	return name, topic, nil
}

func addTopicFlags(fs *flag.FlagSet) *topicFlags {
	t := &topicFlags{names: map[string]string{}, fromArgv: map[string]bool{}}
	fs.Var(t, "topic", "rename a topic: `NAME=TOPIC`, NAME its default name without \"hc.\" "+
		"(person-events, colour-updates, dead-letter, policy, src.checkins, ...); repeat for more (env "+envTopics+", NAME=TOPIC,NAME=TOPIC)")
	for _, part := range splitList(os.Getenv(envTopics)) {
		name, topic, err := parseTopic(part)
		if err != nil {
			t.envErr = fmt.Errorf("%s: %w", envTopics, err)
			break
		}
		t.names[name] = topic
	}
	return t
}

// topics returns every topic name, defaults filled in.
func (t *topicFlags) topics() (pipeline.Topics, error) {
	if t.envErr != nil {
		return pipeline.Topics{}, t.envErr
	}
	get := func(name, def string) string {
		if v := t.names[name]; v != "" {
			return v
		}
		return def
	}
	out := pipeline.Topics{Sources: map[sources.Stream]string{}}
	fields := map[string]*string{"person-events": &out.PersonEvents, "area-risk": &out.AreaRisk, "colour-updates": &out.ColourUpdates,
		"dead-letter": &out.DeadLetter, "scoring-state": &out.State, "presence": &out.Presence, "exposures": &out.Exposures, "journeys": &out.Journeys, "policy": &out.Policy,
		"overrides": &out.Overrides, "override-audit": &out.OverrideAudit}
	byTopic := map[string]string{}
	claim := func(name, topic string) error {
		if other, ok := byTopic[topic]; ok {
			return fmt.Errorf("--topic: %s and %s both name topic %s", min(name, other), max(name, other), topic)
		}
		byTopic[topic] = name
		return nil
	}
	for _, name := range internalTopics() {
		*fields[name] = get(name, "hc."+name)
		if err := claim(name, *fields[name]); err != nil {
			return pipeline.Topics{}, err
		}
	}
	for _, s := range sources.Streams {
		out.Sources[s] = get(s.DefaultTopic(), s.DefaultTopic())
		if err := claim(s.DefaultTopic(), out.Sources[s]); err != nil {
			return pipeline.Topics{}, err
		}
	}
	return out, nil
}
