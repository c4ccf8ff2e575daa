package echolab.jmeter;

import com.thoughtworks.xstream.converters.Converter;
import com.thoughtworks.xstream.converters.MarshallingContext;
import com.thoughtworks.xstream.converters.UnmarshallingContext;
import com.thoughtworks.xstream.io.HierarchicalStreamReader;
import com.thoughtworks.xstream.io.HierarchicalStreamWriter;
import com.thoughtworks.xstream.mapper.Mapper;
import com.thoughtworks.xstream.mapper.SecurityMapper;
import com.thoughtworks.xstream.security.WildcardTypePermission;

/**
 * Lets Debian's JMeter 2.13 load test plans again under Debian's XStream 1.4.20.
 *
 * <p>XStream 1.4.18 and later refuse every class that is not on a default allow-list, and
 * JMeter 2.13 predates that list, so it fails on its own classes
 * ({@code ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper}). JMeter builds each
 * converter named {@code collection} in saveservice.properties with XStream's mapper; this one
 * does nothing as a converter and, while being built, finds the {@link SecurityMapper} in the
 * mapper chain and allows JMeter's and JOrphan's own classes (what a plan file holds), nothing
 * else. Built and registered by scripts/jmeter-setup.sh, only for JMeter 2.x; JMeter 5.x
 * ships an XStream set up for itself and needs none of this.
 */
public final class AllowJMeterTypes implements Converter {
    /** Allows the classes; JMeter calls this once when it sets XStream up. */
    public AllowJMeterTypes(Mapper mapper) {
        Mapper found = mapper.lookupMapperOfType(SecurityMapper.class);
        if (found == null) {
            // An XStream without a security mapper refuses nothing.
            return;
        }
        ((SecurityMapper) found).addPermission(
                new WildcardTypePermission(new String[] {"org.apache.jmeter.**", "org.apache.jorphan.**"}));
    }

    @Override
    public boolean canConvert(@SuppressWarnings("rawtypes") Class type) {
        return false;
    }

    @Override
    public void marshal(Object source, HierarchicalStreamWriter writer, MarshallingContext context) {
        throw new UnsupportedOperationException("AllowJMeterTypes converts nothing");
    }

    @Override
    public Object unmarshal(HierarchicalStreamReader reader, UnmarshallingContext context) {
        throw new UnsupportedOperationException("AllowJMeterTypes converts nothing");
    }
}
